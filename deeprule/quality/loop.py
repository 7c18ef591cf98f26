"""The data-quality loop end to end, as the assets call it: fuse, calibrate, clean, report.

Each function takes plain frames, an embedding function and an LLM client, so
the loop runs (and is tested) without Dagster.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from deeprule.llm import LLMClient
from deeprule.quality.context import DESCRIPTION_KEYS, forecast_origin
from deeprule.quality.fusion import Calibration, calibrate, choose_beta, fused_columns, trend_delta
from deeprule.quality.retrieval import Embed, retrieve, sample_groups
from deeprule.quality.rules import SOFT, STRICT
from deeprule.quality.weights import ask_weights

OUTPUT_COLUMNS = [
    "customer_id", "sku_id", "month", "split", "list_price", "unit_price", "discount", "units",
    "predicted_units", "primary_category", "sensitivity", "in_scope", "has_history",
    "hist_mean_units", "hist_max_units", "usual_discount", "discount_band", "group_id",
    "rule_id", "kind", "template", "similarity", "rule_units", "alpha", "alpha_source",
    "a_fused", "delta_h", "a_calibrated", "a_final",
]


@dataclass(frozen=True)
class FusionParams:
    """Bounds and constants of fusion and calibration (docs/quality.md)."""

    max_alpha_calls: int = 16
    tau: int = 1
    kappa: float = 20.0
    beta: float | None = None
    """None = the β in [0, 0.1] with the lowest WAPE on the `valid` months."""


@dataclass(frozen=True)
class FusionResult:
    table: pl.DataFrame
    groups: pl.DataFrame  # one row per description group: rule, similarity, alpha
    calibration: Calibration
    stats: dict[str, int] = field(default_factory=dict)


def _picks(groups: pl.DataFrame, rules: pl.DataFrame, client: LLMClient,
           max_calls: int) -> pl.DataFrame:
    """Per group: retrieved rule, its kind/template/value, and α (soft rules only)."""
    picked = groups.join(rules.select("rule_id", "kind", "template", "value", "text"),
                         on="rule_id", how="left")
    soft = picked.filter(pl.col("kind") == SOFT)
    weights = ask_weights(soft, client, max_calls).table
    out = picked.join(weights.drop("rule_id"), on="group_id", how="left")
    source = (pl.when(pl.col("kind") == STRICT).then(pl.lit("strict_rule"))
              .when(pl.col("kind").is_null()).then(pl.lit("no_rule"))
              .otherwise(pl.col("alpha_source")))
    return out.with_columns(alpha_source=source).drop("text")


def _calibrated(rows: pl.DataFrame, params: FusionParams) -> tuple[pl.DataFrame, Calibration]:
    delta = trend_delta(rows, params.tau, forecast_origin(rows)).to_numpy().astype(np.float64)
    valid = (rows["split"] == "valid").to_numpy()
    beta = params.beta if params.beta is not None else choose_beta(
        rows["units"].to_numpy()[valid], rows["a_fused"].to_numpy()[valid], delta[valid],
        params.tau, params.kappa)
    cal = Calibration(params.tau, params.kappa, beta)
    return rows.with_columns(
        delta_h=pl.Series(delta).fill_nan(None),
        a_calibrated=pl.Series(calibrate(rows["predicted_units"].to_numpy(), delta, cal)),
        a_final=pl.Series(calibrate(rows["a_fused"].to_numpy(), delta, cal)),
    ), cal


def fuse_and_calibrate(context: pl.DataFrame, rules: pl.DataFrame, embed: Embed,
                       client: LLMClient, params: FusionParams) -> FusionResult:
    """Retrieve a rule per sample, ask α for soft ones, fuse (eq. 15), calibrate (eq. 17)."""
    groups = retrieve(sample_groups(context), rules, embed)
    picks = _picks(groups, rules, client, params.max_alpha_calls)
    rows = context.join(picks.select("group_id", *DESCRIPTION_KEYS), on=DESCRIPTION_KEYS,
                        how="left", nulls_equal=True, maintain_order="left")
    rows = fused_columns(rows, picks.drop(*DESCRIPTION_KEYS, "rows", "description"))
    rows, cal = _calibrated(rows, params)
    table = rows.select(OUTPUT_COLUMNS)
    return FusionResult(table, picks, cal, _stats(table))


def _stats(table: pl.DataFrame) -> dict[str, int]:
    counts = table["alpha_source"].value_counts()
    by_source = dict(zip(counts["alpha_source"].to_list(), counts["count"].to_list(),
                         strict=True))
    changed = (table["a_fused"] - table["predicted_units"]).abs() > 1e-9
    return {
        "rows_strict_rule": by_source.get("strict_rule", 0),
        "rows_strict_overridden": int((changed & (table["kind"] == STRICT)).sum()),
        "rows_soft_blended": by_source.get("llm", 0),
        "rows_without_alpha": sum(by_source.get(k, 0) for k in ("call_cap", "token_budget",
                                                                 "failed")),
        "rows_without_alpha_call_cap": by_source.get("call_cap", 0),
        "rows_without_alpha_budget": by_source.get("token_budget", 0),
        "rows_without_alpha_failed": by_source.get("failed", 0),
        "rows_no_rule": by_source.get("no_rule", 0),
        "rows_without_trend": int(table["delta_h"].is_null().sum()),
    }
