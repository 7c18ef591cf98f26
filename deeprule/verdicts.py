"""Verdicts of the asset checks on decisions: pure functions of the values a check reads.

Each returns a `Verdict` (passed + the numbers that justify it); the Dagster checks in
assets/checks.py only fetch the values. A wrong value here would mislead a decision:
a NaN feature, a missing z-score, a model worse than the one it replaces, a best rule
that does not score what the table says.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl


@dataclass(frozen=True)
class Verdict:
    """Whether a check passed, and the numbers a reader needs to see why."""

    passed: bool
    metadata: dict[str, Any] = field(default_factory=dict)


def no_missing_values(frame: pl.DataFrame, keys: Sequence[str]) -> Verdict:
    """Every non-key numeric value present and finite (no null, NaN or inf)."""
    numeric = [c for c, t in frame.schema.items() if c not in keys and t.is_numeric()]
    bad = {c: int(frame[c].is_null().sum() + (~frame[c].cast(pl.Float64).is_finite()).sum())
           for c in numeric}
    bad = {c: n for c, n in bad.items() if n}
    return Verdict(not bad and frame.height > 0,
                   {"rows": frame.height, "columns": len(numeric), "bad_values": sum(bad.values()),
                    "bad_columns": ", ".join(sorted(bad)) or "none"})


def standardization_covers(features: Sequence[str], stats: pl.DataFrame) -> Verdict:
    """Each standardized feature has a finite mean and a positive finite std."""
    known = {r["feature"]: (r["mean"], r["std"]) for r in stats.iter_rows(named=True)}
    missing = sorted(f for f in features if f not in known)
    broken = sorted(f for f, (mean, std) in known.items()
                    if mean is None or std is None or not math.isfinite(mean)
                    or not math.isfinite(std) or std <= 0)
    return Verdict(not missing and not broken,
                   {"features": len(features), "missing": ", ".join(missing) or "none",
                    "degenerate": ", ".join(broken) or "none"})


def metric_floor(current: Mapping[str, float], previous: Mapping[str, float] | None,
                 tolerance: float) -> Verdict:
    """Error metrics (lower is better) no worse than the previous version's by > `tolerance`
    (relative). The first version passes: there is nothing to fall below."""
    if not previous:
        return Verdict(True, {"compared_with": "no previous version"})
    worse = {name: (value, previous[name]) for name, value in current.items()
             if name in previous and value > previous[name] * (1 + tolerance)}
    return Verdict(not worse, {**{f"{k}": round(v, 6) for k, v in current.items()},
                               **{f"previous_{k}": round(v, 6) for k, v in previous.items()},
                               "worse": ", ".join(sorted(worse)) or "none",
                               "tolerance": tolerance})


def reproduces(recorded: float, rescored: float, rel_tol: float) -> Verdict:
    """A recorded score equals a fresh re-score within `rel_tol` (relative)."""
    gap = abs(recorded - rescored) / max(abs(recorded), 1e-9)
    return Verdict(gap <= rel_tol, {"recorded": recorded, "rescored": rescored,
                                    "relative_gap": gap, "tolerance": rel_tol})


def prediction_near_realized(plans: pl.DataFrame, bound: float) -> Verdict:
    """Each plan's predicted profit within `bound` of the profit it realized (relative to the
    realized). `plans`: plan, predicted_profit, profit; a row without a prediction (logged
    policy, oracle) is not judged. No row to judge passes: with user data there is no truth."""
    judged = plans.filter(pl.col("predicted_profit").is_not_null()).with_columns(
        gap=pl.col("predicted_profit") / pl.max_horizontal(pl.col("profit").abs(), 1e-9) - 1)
    if judged.is_empty():
        return Verdict(True, {"plans_judged": 0, "note": "no plan with both a prediction and "
                              "a realized profit"})
    worst = judged.sort(pl.col("gap").abs().fill_nan(math.inf), descending=True).row(
        0, named=True)
    over = judged.filter(~(pl.col("gap").abs() <= bound))["plan"].to_list()
    return Verdict(not over, {
        "plans_judged": judged.height, "worst_plan": worst["plan"],
        "worst_gap": round(worst["gap"], 4),
        "worst_predicted_profit": round(worst["predicted_profit"], 2),
        "worst_realized_profit": round(worst["profit"], 2), "bound": bound,
        "over_bound": ", ".join(over) or "none"})
