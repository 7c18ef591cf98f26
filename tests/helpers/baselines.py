"""Small hand-built plan months for the baselines' known-answer tests."""

from datetime import date

import numpy as np
import polars as pl

from deeprule.baselines.common import PlanMonth

PLAN_MONTH = date(2024, 7, 1)


def catalogue(list_price: np.ndarray, cost: np.ndarray, primary: list[str],
              secondary: list[str] | None = None) -> pl.DataFrame:
    """A SKU table (sku_id S00..) with the columns the baselines read."""
    n = len(list_price)
    return pl.DataFrame({
        "sku_id": [f"S{i:02d}" for i in range(n)], "primary_category": primary,
        "secondary_category": secondary or primary, "list_price": list_price.astype(float),
        "cost": cost.astype(float),
        "launch_month": [date(2020, 1, 1)] * n})


def shipments(units: np.ndarray, ratio: np.ndarray, skus: pl.DataFrame) -> pl.DataFrame:
    """Shipments from (months, customers, skus) units and price ratios (price / list);
    zero-unit pairs are not shipped."""
    months, customers, n_skus = units.shape
    m, c, s = np.nonzero(units > 0)
    list_price = skus["list_price"].to_numpy()[s]
    price = ratio[m, c, s] * list_price
    return pl.DataFrame({
        "customer_id": [f"C{k:03d}" for k in c], "sku_id": skus["sku_id"].gather(s),
        "month": [date(2024, 1 + int(k), 1) for k in m], "list_price": list_price,
        "discount": 1 - ratio[m, c, s], "unit_price": price, "units": units[m, c, s],
        "revenue": price * units[m, c, s]})


def month_of(history: pl.DataFrame, skus: pl.DataFrame, n_customers: int) -> PlanMonth:
    """The plan month (PLAN_MONTH) over every customer x SKU."""
    from deeprule.baselines.common import plan_month

    customers = pl.Series("customer_id", [f"C{k:03d}" for k in range(n_customers)])
    return plan_month(history, skus, PLAN_MONTH, customers)
