"""Group `search`: the LLM-guided rule search on the held-out months.

`rule_search` loads the registered demand model, builds candidate rows
(customer x SKU pairs of the held-out months) and runs the reflection loop
(`deeprule.search.reflect`); its table is every iteration, the best rule
marked, the rule text rendered with its fitted constants (what an auditor
reads; `rule_plans_vs_truth` in assets/evaluation.py re-parses it and prices
the plans under the simulator's true demand).
"""

import time

import dagster as dg
import polars as pl
from dagster_duckdb import DuckDBResource
from pydantic import Field

from assets._heldout import SOURCE_DEPS, held_out_candidates
from assets._metadata import frame_metadata
from assets._plots import plot_metadata
from deeprule.plots import fitness_trace
from deeprule.search.objective import FitnessConfig
from deeprule.search.reflect import SearchConfig, search
from resources.llm import LLMResource
from resources.mlflow import MlflowResource

GROUP = "search"


class RuleSearchConfig(dg.Config):
    """Search length and the fitness weights (docs/search.md)."""

    iterations: int = Field(default=3, description="LLM proposals at most.")
    patience: int = Field(default=3, description="Stop after this many without a new best.")
    depth: int = Field(default=2, description="Nesting depth of proposed rule trees.")
    eta: float = Field(default=1.0, description="Weight of (price - usual price)^2.")
    lam: float = Field(default=0.5, description="Weight of the rule's complexity.")
    rho: float = Field(default=1.0, description="Weight of prices outside [cost, list].")

    def search(self) -> SearchConfig:
        return SearchConfig(iterations=self.iterations, patience=self.patience, depth=self.depth,
                            fitness=FitnessConfig(eta=self.eta, lam=self.lam, rho=self.rho))


@dg.asset(
    group_name=GROUP, kinds={"polars", "duckdb"}, pool="duckdb", deps=SOURCE_DEPS,
    description="Every iteration of the LLM-guided rule search (expert rule first), with "
    "fitness, predicted profit, violations, LLM tokens; the best rule marked.",
)
def rule_search(context: dg.AssetExecutionContext, config: RuleSearchConfig,
                llm: LLMResource, mlflow: MlflowResource, duckdb: DuckDBResource,
                demand_model: pl.DataFrame) -> dg.Output[pl.DataFrame]:
    started = time.perf_counter()
    ref, test, cand = held_out_candidates(mlflow, duckdb, demand_model)
    with llm.client("rule_proposal") as client:
        result = search(client, cand, config.search(), progress=context.log.info)
        usage = client.usage.summary()
    table = result.table().with_columns(demand_model_version=pl.lit(str(ref.version)))
    best = table.filter(pl.col("is_best")).row(0, named=True)
    expert = table.row(0, named=True)
    return dg.Output(table, metadata=frame_metadata(
        table, time.perf_counter() - started, candidates=cand.height,
        best_rule=dg.MetadataValue.md(f"```python\n{best['rule']}```"),
        best_fitness=round(best["fitness"], 3), expert_fitness=round(expert["fitness"], 3),
        best_iteration=int(best["number"]), violations=int(best["violations"]),
        predicted_profit=round(best["profit"], 2), **usage,
        fitness_plot=plot_metadata(fitness_trace(table["number"].to_list(),
                                                 table["fitness"].to_list()),
                                   "Fitness of each proposal after its constants were fitted"),
    ))
