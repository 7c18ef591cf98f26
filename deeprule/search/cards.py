"""Rule cards: what an auditor needs to trust the best rule of a search run.

One card per search run's best rule: its text and fitted constants, Φ, the
predicted profit and units of its decisions on the held-out candidate rows,
its complexity, the LLM's rationale (when an LLM wrote it), which searcher,
backend and model produced it, the run, and the documents behind every
document fact it reads. The card's id is the rule text's hash, the
`rule_version` every plan line carries, so a plan names the card that made it.
"""

from __future__ import annotations

import hashlib

import polars as pl

from deeprule.priors.aggregate import AS_OF, snapshot_at
from deeprule.rules import complexity, decide, parse_program
from deeprule.rules.ir import feature_names
from deeprule.search.objective import (
    DOCUMENT_RULE_FEATURES,
    RULE_FEATURES,
    SENSITIVITY_INDICATORS,
    Candidates,
    outcome,
)

SEARCH_TABLE_COLUMNS = ("number", "rule", "fitness", "profit", "violations", "is_best",
                        "searcher", "llm_backend", "llm_model", "run_id")
"""What a search table must carry for a card (assets/search.py writes them)."""
DOCUMENT_SOURCES = {
    **dict.fromkeys(SENSITIVITY_INDICATORS, "category_sensitivity"),
    "announced_now": "announced_source", "announced_later": "announced_source",
    "brand_wanted": "wanted_brands_source", "discount_ceiling": "discount_ceiling_source",
    "locked": "locks",
}
"""Rule feature -> the priors column naming the documents its fact came from. `in_scope`
(a union over profiles) and `has_documents` (any document) have no single source."""
CARD_SCHEMA = {
    "card_id": pl.String, "searcher": pl.String, "source_iteration": pl.Int64,
    "rule": pl.String, "constants": pl.List(pl.Float64), "fitness": pl.Float64,
    "predicted_profit": pl.Float64, "predicted_units": pl.Float64, "stocked_rows": pl.Int64,
    "complexity": pl.Int64, "violations": pl.Int64, "rationale": pl.String,
    "llm_backend": pl.String, "llm_model": pl.String, "run_id": pl.String,
    "features_read": pl.List(pl.String), "document_features_read": pl.List(pl.String),
    "documents": pl.List(pl.String),
}


def card_id(rule_text: str) -> str:
    """The rule's version: the hash plan lines carry as `rule_version`."""
    return hashlib.sha256(rule_text.encode()).hexdigest()[:12]


def rule_card(table: pl.DataFrame, cand: Candidates, priors: pl.DataFrame | None
              ) -> dict[str, object]:
    """The card of a search table's best rule (`priors`: the snapshots the rule read)."""
    missing = [c for c in SEARCH_TABLE_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"search table lacks {missing}: rematerialize the search")
    best = table.filter(pl.col("is_best")).row(0, named=True)
    program = parse_program(best["rule"], RULE_FEATURES)
    read = sorted(set().union(*(feature_names(f) for f in program.functions.values())))
    from_documents = [f for f in read if f in DOCUMENT_RULE_FEATURES
                      or f in SENSITIVITY_INDICATORS]
    prediction = outcome(program, decide(program, cand.columns), cand)
    return {
        "card_id": card_id(best["rule"]), "searcher": best["searcher"],
        "source_iteration": best["number"], "rule": best["rule"],
        "constants": list(program.constants), "fitness": best["fitness"],
        "predicted_profit": prediction.profit, "predicted_units": prediction.units,
        "stocked_rows": prediction.stocked,
        "complexity": sum(complexity(f) for f in program.functions.values()),
        "violations": best["violations"], "rationale": _rationale(best),
        "llm_backend": best["llm_backend"], "llm_model": best["llm_model"],
        "run_id": best["run_id"], "features_read": read,
        "document_features_read": from_documents,
        "documents": source_documents(from_documents, _snapshot(priors, cand)),
    }


def cards_frame(cards: list[dict[str, object]]) -> pl.DataFrame:
    return pl.DataFrame(cards, schema=CARD_SCHEMA)


def _rationale(best: dict) -> str:
    """The LLM's reasoning for the best rule, if the searcher has an LLM that gives one."""
    text = best.get("reflection") or ""
    if text:
        return text
    if best["number"] == 0:
        return "the expert rule the search started from"
    return f"no rationale: the {best['searcher']} searcher writes none"


def _snapshot(priors: pl.DataFrame | None, cand: Candidates) -> pl.DataFrame | None:
    """The priors as the candidates' latest month began (point-in-time snapshots)."""
    if priors is None:
        return None
    if AS_OF not in priors.columns:
        return priors
    return snapshot_at(priors, cand.rows["month"].max())


def source_documents(features: list[str], priors: pl.DataFrame | None) -> list[str]:
    """Ids of the documents that stated the facts behind `features`, sorted."""
    if priors is None:
        return []
    ids: set[str] = set()
    for column in {DOCUMENT_SOURCES[f] for f in features if f in DOCUMENT_SOURCES}:
        values = priors[column]
        if column in ("category_sensitivity", "locks"):
            ids |= set(values.explode().struct.field("doc_id").drop_nulls().to_list())
        else:
            ids |= {doc for joined in values.drop_nulls().to_list() for doc in joined.split("|")}
    return sorted(ids)
