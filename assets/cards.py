"""Group `search`: `rule_cards`, the audit card of each search's best rule.

Logic in deeprule/search/cards.py. A card's id is the hash plan lines carry as
`rule_version`, so every plan line names the card of the rule that made it.
"""

import time

import dagster as dg
import polars as pl
from dagster_duckdb import DuckDBResource

from assets._heldout import SOURCE_DEPS, held_out_candidates
from assets._metadata import frame_metadata, table_markdown
from assets._tables import read_table_or_none
from deeprule.search.cards import cards_frame, rule_card
from resources.mlflow import MlflowResource

GROUP = "search"


@dg.asset(
    group_name=GROUP, kinds={"polars", "duckdb"}, pool="duckdb", deps=SOURCE_DEPS,
    description="One card per search run's best rule: text, fitted constants, fitness, "
    "predicted profit and units, complexity, rationale, searcher, LLM backend and model, run "
    "id, the documents behind the facts it reads. card_id = the plans' rule_version.",
)
def rule_cards(context: dg.AssetExecutionContext, mlflow: MlflowResource,
               duckdb: DuckDBResource, demand_model: pl.DataFrame,
               rule_search: pl.DataFrame, evolved_rule_search: pl.DataFrame
               ) -> dg.Output[pl.DataFrame]:
    started = time.perf_counter()
    _, _, cand = held_out_candidates(mlflow, duckdb, demand_model)
    priors = read_table_or_none(duckdb, "customer_priors_by_month")
    cards = cards_frame([rule_card(table, cand, priors)
                        for table in (rule_search, evolved_rule_search)])
    context.log.info(f"{cards.height} rule cards on {cand.height:,} candidate rows")
    shown = cards.select("card_id", "searcher", "fitness", "predicted_profit",
                         "predicted_units", "complexity", "rationale",
                         n_documents=pl.col("documents").list.len())
    return dg.Output(cards, metadata=frame_metadata(
        cards, time.perf_counter() - started, candidates=cand.height,
        cards=dg.MetadataValue.md(table_markdown(shown)),
        rules=dg.MetadataValue.md("\n\n".join(
            f"**{r['searcher']}** `{r['card_id']}`\n```python\n{r['rule']}```"
            for r in cards.iter_rows(named=True))),
    ))
