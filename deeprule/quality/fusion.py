"""Multi-source fusion (eq. 15) and historical-trend calibration (eqs. 16-17).

    a_fused = g_strict(x)                         if the retrieved rule is strict
            = α·a_init + (1 − α)·g_soft(x)        if it is soft and α is known
            = a_init                              otherwise (no rule, or no α)
    ΔH_t    = (1/τ) Σ_{i=1..τ} (a_{t−i} − a_{t−i−τ})
    a_final = β·sgn(ΔH_t)·min(|ΔH_t|, κ) + (1 − β)·a_fused,   0 ≤ β ≤ 0.1

a_s are the pair's logged units. A held-out row may not see labels after the
forecast origin, so its window ends at the origin (every held-out month of a
pair shares the calibration of the first one); months a pair did not ship
are skipped, and a row with no complete difference gets ΔH = 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from deeprule.quality.context import PAIR, month_index
from deeprule.quality.rules import STRICT, rule_output

MAX_BETA = 0.1


@dataclass(frozen=True)
class Calibration:
    """τ periods, clip κ (units) and weight β of the trend term."""

    tau: int = 1
    kappa: float = 20.0
    beta: float = 0.05

    def __post_init__(self) -> None:
        if not 0.0 <= self.beta <= MAX_BETA:
            raise ValueError(f"beta must lie in [0, {MAX_BETA}], got {self.beta}")
        if self.tau < 1 or self.kappa < 0:
            raise ValueError(f"need tau >= 1 and kappa >= 0, got {self.tau}, {self.kappa}")


def fuse(a_init: np.ndarray, kind: np.ndarray, g: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Eq. 15 on whole columns; `alpha` is NaN where unknown, `g` NaN where there is no rule."""
    strict = (kind == STRICT) & ~np.isnan(g)
    blend = (kind != STRICT) & ~np.isnan(g) & ~np.isnan(alpha)
    soft = np.where(blend, alpha * a_init + (1.0 - alpha) * np.nan_to_num(g), a_init)
    return np.where(strict, g, soft)


def fused_columns(context: pl.DataFrame, picks: pl.DataFrame) -> pl.DataFrame:
    """Context joined with each row's rule (kind, template, value) and α; adds g and a_fused."""
    rows = context.join(picks, on=["group_id"], how="left")
    a_init = rows["predicted_units"].to_numpy()
    g = rule_output(rows, rows["template"].to_numpy(), rows["value"].fill_null(np.nan).to_numpy(),
                    a_init)
    kind = rows["kind"].fill_null("").to_numpy()
    alpha = rows["alpha"].fill_null(np.nan).to_numpy()
    return rows.with_columns(
        rule_units=pl.Series(g).fill_nan(None),
        a_fused=pl.Series(fuse(a_init, kind, g, alpha)),
    )


def trend_delta(context: pl.DataFrame, tau: int, origin: date | None) -> pl.Series:
    """ΔH per row (null where no difference is available), from logged units only."""
    series = context.select(*PAIR, t=month_index(), a=pl.col("units"))
    limit = None if origin is None else origin.year * 12 + origin.month - 1
    rows = context.select(*PAIR, t=month_index()).with_row_index("_row")
    anchor = pl.col("t") if limit is None else pl.min_horizontal(pl.col("t"), pl.lit(limit + 1))
    rows = rows.with_columns(anchor=anchor)
    diffs = []
    for i in range(1, tau + 1):
        recent = series.rename({"t": "t1", "a": "a1"})
        older = series.rename({"t": "t2", "a": "a2"})
        step = (rows.with_columns(t1=pl.col("anchor") - i, t2=pl.col("anchor") - i - tau)
                .join(recent, on=[*PAIR, "t1"], how="left")
                .join(older, on=[*PAIR, "t2"], how="left"))
        diffs.append(step.select("_row", d=pl.col("a1") - pl.col("a2")))
    joined = pl.concat(diffs).group_by("_row").agg(pl.col("d").mean()).sort("_row")
    return joined["d"].alias("delta_h")


def calibrate(a_fused: np.ndarray, delta_h: np.ndarray, c: Calibration) -> np.ndarray:
    """Eq. 17, floored at 0 units; a NaN ΔH counts as no trend (ΔH = 0)."""
    d = np.nan_to_num(delta_h)
    out = c.beta * np.sign(d) * np.minimum(np.abs(d), c.kappa) + (1.0 - c.beta) * a_fused
    return np.maximum(out, 0.0)


BETA_GRID = (0.0, 0.025, 0.05, 0.075, 0.1)


def choose_beta(units: np.ndarray, a_fused: np.ndarray, delta_h: np.ndarray, tau: int,
                kappa: float, grid: tuple[float, ...] = BETA_GRID) -> float:
    """The β in `grid` (all within [0, 0.1]) with the lowest WAPE on the given (validation) rows.

    Ties go to the smallest β, so a trend term that does not help is switched off.
    """
    total = float(np.abs(units).sum())
    if total == 0 or not len(units):
        return 0.0
    errors = [float(np.abs(units - calibrate(a_fused, delta_h, Calibration(tau, kappa, b))).sum())
              for b in grid]
    return grid[int(np.argmin(errors))]
