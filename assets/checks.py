"""Checks wherever a wrong value would mislead a decision: features, scorers, search
(plans: `no_hard_constraint_violation` in assets/plans.py; evaluation:
`predicted_profit_near_realized` in assets/evaluation.py). Each fetches its values and
asks a pure verdict in deeprule/verdicts.py."""

import dagster as dg
import polars as pl
from dagster_duckdb import DuckDBResource

from assets._heldout import held_out_candidates
from assets._tables import read_table_or_none
from deeprule.rules import decide, parse_program
from deeprule.search.objective import RULE_FEATURES, outcome
from deeprule.verdicts import (
    Verdict,
    metric_floor,
    no_missing_values,
    reproduces,
    standardization_covers,
)
from resources.mlflow import MlflowResource

FEATURE_TABLES = ("customer_features", "customer_category_features", "sku_features")
ERROR_METRICS = ("test_wape", "test_mae")
MODEL_TOLERANCE = 0.25
"""A retrained model may be this much worse (relative) than its predecessor: new months
move the test window, so small swings are expected; a collapse is not."""
REPRODUCE_TOLERANCE = 1e-3


def _result(verdict: Verdict, **extra: object) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=verdict.passed, metadata={**verdict.metadata, **extra})


def _table(duckdb: DuckDBResource, name: str) -> pl.DataFrame:
    frame = read_table_or_none(duckdb, name)
    return frame if frame is not None else pl.DataFrame()


def _feature_check(table: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=dg.AssetKey(table), name="no_missing_values", blocking=True,
                    description="Every feature value present and finite (no NaN, null, inf).")
    def _check(duckdb: DuckDBResource) -> dg.AssetCheckResult:
        return _result(no_missing_values(_table(duckdb, table), keys=()))

    return _check


@dg.asset_check(asset=dg.AssetKey("feature_standardization"), name="covers_every_feature",
                additional_deps=[dg.AssetKey("customer_features")],
                description="Each customer feature has a z-score mean and a positive std.")
def covers_every_feature(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    stats = _table(duckdb, "feature_standardization")
    if "source_table" in stats.columns:
        stats = stats.filter(pl.col("source_table") == "customer_features")
    features = _table(duckdb, "customer_features")
    numeric = [c for c, t in features.schema.items() if t.is_numeric()]
    return _result(standardization_covers(numeric, stats))


def _metrics(event: dg.EventLogRecord) -> dict[str, float]:
    metadata = event.asset_materialization.metadata if event.asset_materialization else {}
    return {k: float(metadata[k].value) for k in ERROR_METRICS if k in metadata}


@dg.asset_check(asset=dg.AssetKey("demand_model"), name="no_worse_than_previous_version",
                description=f"Test WAPE and MAE within {MODEL_TOLERANCE:.0%} of the version "
                "registered before this one.")
def no_worse_than_previous_version(context: dg.AssetCheckExecutionContext
                                   ) -> dg.AssetCheckResult:
    records = context.instance.fetch_materializations(dg.AssetKey("demand_model"), limit=2).records
    if not records:
        return dg.AssetCheckResult(passed=False, metadata={"reason": "never materialized"})
    previous = _metrics(records[1]) if len(records) > 1 else None
    return _result(metric_floor(_metrics(records[0]), previous, MODEL_TOLERANCE))


def _reproduces_check(search: str) -> dg.AssetChecksDefinition:
    """The best rule of a search table parses and re-scores to what its row records."""

    @dg.asset_check(asset=dg.AssetKey(search), name="best_rule_reproduces",
                    additional_deps=[dg.AssetKey("demand_model")],
                    description="The best rule parses and, re-run on the held-out candidates, "
                    "yields the profit and violations its row records.")
    def best_rule_reproduces(mlflow: MlflowResource, duckdb: DuckDBResource
                             ) -> dg.AssetCheckResult:
        table = _table(duckdb, search)
        best = table.filter(pl.col("is_best")).row(0, named=True)
        _, _, cand = held_out_candidates(mlflow, duckdb, _table(duckdb, "demand_model"))
        program = parse_program(best["rule"], RULE_FEATURES)
        fresh = outcome(program, decide(program, cand.columns), cand)
        verdict = reproduces(float(best["profit"]), fresh.profit, REPRODUCE_TOLERANCE)
        same_violations = fresh.violations == int(best["violations"])
        return dg.AssetCheckResult(
            passed=verdict.passed and same_violations,
            metadata={**verdict.metadata, "violations": fresh.violations,
                      "recorded_violations": int(best["violations"])})

    return best_rule_reproduces


decision_checks = [
    *[_feature_check(t) for t in FEATURE_TABLES], covers_every_feature,
    no_worse_than_previous_version, _reproduces_check("rule_search"),
    _reproduces_check("evolved_rule_search"),
]
