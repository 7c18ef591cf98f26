"""Monthly expenses per customer by type: what serving the account cost that month.

They follow the month's shipments, so the paper's fee ratios FR_{c,k1} (expenses
over gross revenue per customer and category, Appendix E) can be computed:
- logistics: a fee per delivered line plus freight per kilogram shipped;
- promotion: support paid on the revenue of promoted categories, plus display fees;
- rebates: a year-end rebate accrued monthly, by size tier, higher under a supply contract.
Each month draws from its own random stream, like the shipments.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from deeprule.schema import EXPENSE_TYPES, EXPENSES
from deeprule.synth.rng import stream
from deeprule.synth.spec import WorldSpec

LINE_FEE = (6.0, 14.0)
"""Delivery fee per shipped line (customer-specific, currency)."""
FREIGHT_PER_KG = 0.04
PROMO_SUPPORT = (0.02, 0.06)
"""Share of promoted-category revenue paid as promotion support (customer-specific)."""
DISPLAY_FEE_CHANCE = 0.15
REBATE_RATE = {"small": 0.0, "medium": 0.01, "large": 0.025}
CONTRACT_REBATE = 0.01
NOISE_SD = 0.1


def account_rates(spec: WorldSpec, n_customers: int) -> tuple[np.ndarray, np.ndarray]:
    """Per customer: delivery fee per line and promotion-support rate (fixed over time)."""
    rng = stream(spec.seed, "expense_rates")
    return rng.uniform(*LINE_FEE, n_customers), rng.uniform(*PROMO_SUPPORT, n_customers)


def month_expenses(spec: WorldSpec, month_index: int, month: date, shipments: pl.DataFrame,
                   sku_info: pl.DataFrame, accounts: pl.DataFrame,
                   promotions: np.ndarray) -> pl.DataFrame:
    """EXPENSES rows of one month: three rows per customer that shipped.

    `sku_info`: sku_id, primary_category index `cat`, `kg` per unit; `accounts`:
    customer_id, line_fee, promo_rate, rebate_rate (tier plus contract).
    """
    rng = stream(spec.seed, "expenses", month_index)
    promoted = promotions[month.month - 1][sku_info["cat"].to_numpy()] > 0
    rows = shipments.join(sku_info.with_columns(promoted=pl.Series(promoted)), on="sku_id")
    per = rows.group_by("customer_id").agg(
        lines=pl.len(), kg=(pl.col("units") * pl.col("kg")).sum(),
        revenue=pl.col("revenue").sum(),
        promo_revenue=pl.col("revenue").filter(pl.col("promoted")).sum(),
    ).sort("customer_id").join(accounts, on="customer_id")
    n = per.height
    display = np.where(rng.random(n) < DISPLAY_FEE_CHANCE, rng.uniform(100, 600, n), 0.0)
    noise = np.exp(rng.normal(-NOISE_SD**2 / 2, NOISE_SD, (len(EXPENSE_TYPES), n)))
    amounts = {
        "logistics": (per["lines"].to_numpy() * per["line_fee"].to_numpy()
                      + FREIGHT_PER_KG * per["kg"].to_numpy()),
        "promotion": per["promo_revenue"].to_numpy() * per["promo_rate"].to_numpy() + display,
        "rebates": per["revenue"].to_numpy() * per["rebate_rate"].to_numpy(),
    }
    frames = [
        pl.DataFrame({"customer_id": per["customer_id"], "expense_type": kind,
                      "amount": np.round(amounts[kind] * noise[i], 2)})
        for i, kind in enumerate(EXPENSE_TYPES)
    ]
    out = pl.concat(frames).with_columns(pl.lit(month, dtype=pl.Date).alias("month"))
    return out.select([pl.col(c.name).cast(c.dtype) for c in EXPENSES.columns]).sort(
        "customer_id", "expense_type")
