"""Does each step help? WAPE and MAE of units on the held-out months, with and without it."""

from __future__ import annotations

import numpy as np
import polars as pl

from deeprule.models.metrics import mae, wape
from deeprule.quality.rules import SOFT, STRICT

REPORT_SCHEMA: dict[str, pl.DataType] = {
    "step": pl.String(), "variant": pl.String(), "wape": pl.Float64(), "mae": pl.Float64(),
    "rows": pl.Int64(), "note": pl.String(),
}


def score_row(step: str, variant: str, actual: np.ndarray, predicted: np.ndarray,
              note: str = "") -> dict:
    return {"step": step, "variant": variant, "wape": round(wape(actual, predicted), 5),
            "mae": round(mae(actual, predicted), 4), "rows": len(actual), "note": note}


def fusion_rows(held: pl.DataFrame) -> list[dict]:
    """The model alone, each fusion half, full fusion, calibration alone and both together."""
    y = held["units"].to_numpy()
    a_init, a_fused = held["predicted_units"].to_numpy(), held["a_fused"].to_numpy()
    kind = held["kind"].fill_null("").to_numpy()
    strict_only = np.where(kind == STRICT, a_fused, a_init)
    soft_only = np.where(kind == SOFT, a_fused, a_init)
    return [
        score_row("baseline", "model prediction (a_init)", y, a_init),
        score_row("fusion", "+ strict rules only", y, strict_only,
                  f"{int((strict_only != a_init).sum())} rows changed"),
        score_row("fusion", "+ soft rules only (LLM alpha)", y, soft_only,
                  f"{int((soft_only != a_init).sum())} rows changed"),
        score_row("fusion", "+ strict and soft rules (a_fused)", y, a_fused),
        score_row("calibration", "+ trend calibration only", y, held["a_calibrated"].to_numpy()),
        score_row("fusion+calibration", "+ fusion and calibration (a_final)", y,
                  held["a_final"].to_numpy()),
    ]


Refit = tuple[str, str, pl.DataFrame, str]
"""(step, variant, KEY + refit_units on held-out rows, note)."""


def refit_rows(held: pl.DataFrame, refits: list[Refit]) -> list[dict]:
    """One row per refit variant, scored on the held-out rows it predicted."""
    rows = []
    for step, variant, pred, note in refits:
        joined = held.select("customer_id", "sku_id", "month", "units").join(
            pred, on=["customer_id", "sku_id", "month"], how="inner")
        rows.append(score_row(step, variant, joined["units"].to_numpy(),
                              joined["refit_units"].to_numpy(), note))
    return rows


def build_report(final: pl.DataFrame, refits: list[Refit],
                 skipped: str = "") -> pl.DataFrame:
    """Fusion rows on `test`, then refit rows (or one row saying why refits were skipped)."""
    held = final.filter(pl.col("split") == "test")
    rows = fusion_rows(held) + refit_rows(held, refits)
    if skipped:
        rows.append({"step": "cleaning/augmentation", "variant": "refits skipped",
                     "wape": None, "mae": None, "rows": 0, "note": skipped})
    return pl.DataFrame(rows, schema=REPORT_SCHEMA)
