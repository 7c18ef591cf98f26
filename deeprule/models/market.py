"""The market price p̄_m of a SKU before a month: Σ revenue / Σ units over every customer.

The paper's sales-weighted market unit price (Appendix E). Only months strictly
before a row's month count, so a held-out or plan month never sees its own sales;
a SKU never sold by then is at its list price.
"""

from __future__ import annotations

import numpy as np
import polars as pl


def row_market_prices(rows: pl.DataFrame, shipments: pl.DataFrame) -> np.ndarray:
    """p̄_m for each row (sku_id, month, list_price), in row order."""
    monthly = (shipments.filter(pl.col("units") > 0).group_by("sku_id", "month")
               .agg(pl.col("revenue").sum().cast(pl.Float64),
                    pl.col("units").sum().cast(pl.Float64)).sort("sku_id", "month"))
    cumulative = monthly.select(
        "sku_id", "month", _revenue=pl.col("revenue").cum_sum().over("sku_id"),
        _units=pl.col("units").cum_sum().over("sku_id")).sort("month")
    joined = (rows.select("sku_id", "month", "list_price").with_row_index("_market_row")
              .sort("month")
              .join_asof(cumulative, on="month", by="sku_id", strategy="backward",
                         allow_exact_matches=False, check_sortedness=False)
              .sort("_market_row"))
    return joined.select(pl.coalesce(pl.col("_revenue") / pl.col("_units"),
                                     pl.col("list_price").cast(pl.Float64))
                         ).to_series().to_numpy().astype(np.float64)
