"""Rule-prior guided augmentation: counterfactual discount scenarios labelled by a soft rule.

The paper labels augmented samples x_{c,m,d} (a pair at discount scenario d)
with an LLM reading a rule. A tiny local model cannot produce credible unit
counts, so here the rule labels them directly: a training row moved from its
own price p to a scenario price p' is labelled units·(p'/p)^(−e), e being the
elasticity of its segment's `elasticity_band` rule. The label stays anchored
on an observed month and moves only along the rule's price response.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from deeprule.quality.context import PAIR

SCENARIO_SHIFTS = (-0.05, 0.05)
"""Discount scenarios relative to the row's own discount (fractions of list price)."""
MAX_DISCOUNT = 0.6


def augmented_rows(context: pl.DataFrame, rules: pl.DataFrame, share: float,
                   seed: int = 0) -> pl.DataFrame:
    """About `share` x (training rows with a rule) pseudo rows; KEY + prices + units + discount.

    Each chosen row gets one scenario. A pseudo row keeps the month of its
    source row, so it takes that month's place in the pair only in training.
    """
    band = rules.filter(pl.col("template") == "elasticity_band").select(
        "primary_category", "sensitivity", e=pl.col("value"))
    train = context.filter((pl.col("split") == "train") & pl.col("has_history")).join(
        band, on=["primary_category", "sensitivity"], how="inner")
    if train.is_empty() or share <= 0:
        return pl.DataFrame(schema={"customer_id": pl.String, "sku_id": pl.String,
                                    "month": pl.Date, "list_price": pl.Float64,
                                    "unit_price": pl.Float64, "discount": pl.Float64,
                                    "units": pl.Float64})
    rng = np.random.default_rng(seed)
    n = min(train.height, max(1, int(round(share * train.height))))
    picked = train[np.sort(rng.choice(train.height, n, replace=False))]
    shift = rng.choice(np.array(SCENARIO_SHIFTS), n)
    discount = np.clip(picked["discount"].to_numpy() + shift, 0.0, MAX_DISCOUNT)
    ratio = (1.0 - discount) / np.maximum(1.0 - picked["discount"].to_numpy(), 1e-6)
    units = picked["units"].to_numpy() * np.power(ratio, -picked["e"].to_numpy())
    return picked.select(*PAIR, "month", "list_price").with_columns(
        unit_price=pl.col("list_price") * pl.Series(1.0 - discount),
        discount=pl.Series(discount), units=pl.Series(np.round(units, 2)),
    )
