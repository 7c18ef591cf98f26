"""Plan candidates: every customer x every catalogue SKU of the plan month, with rule features.

A rule only ever saw the pairs a customer traded; a plan chooses from the whole
catalogue. The rows are assembled exactly like a scoring row of that month
(`deeprule.models.matrix.scoring_frame`: the pair's history strictly before the
month, else the customer's usual discount in the category), so the rule features
(`deeprule.search.objective.RULE_FEATURES`) and the demand model's predicted units
and elasticity at the usual price are those the search scored. Next to them:
the SKU's secondary category and its sales-weighted market price p̄_m (Appendix E).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from deeprule.models.demand import DemandScorer
from deeprule.models.frames import SourceTables
from deeprule.models.matrix import scoring_frame
from deeprule.search.objective import Candidates, candidates


@dataclass(frozen=True)
class PlanCandidates:
    """Candidate rows (sorted by customer, then SKU) and what the optimizers read beside
    the rule features: predicted units at the usual price and the market price."""

    cand: Candidates
    pred_units: np.ndarray
    market_price: np.ndarray

    @property
    def rows(self) -> pl.DataFrame:
        return self.cand.rows


def plan_query(customers: pl.Series, skus: pl.DataFrame, month: date) -> pl.DataFrame:
    """customer_id x sku_id for `month`, sorted; SKUs launched after the month are left out."""
    catalogue = skus
    if "launch_month" in skus.columns:
        catalogue = skus.filter(pl.col("launch_month").is_null()
                                | (pl.col("launch_month") <= month))
    return (pl.DataFrame({"customer_id": customers.unique().sort()})
            .join(catalogue.select("sku_id").sort("sku_id"), how="cross")
            .with_columns(month=pl.lit(month, dtype=pl.Date)))


def market_prices(shipments: pl.DataFrame, skus: pl.DataFrame, month: date) -> pl.DataFrame:
    """sku_id, market_price: p̄_m = Σ s·p / Σ s over the months before `month` (list price
    for a SKU never sold)."""
    sold = (shipments.filter((pl.col("month") < month) & (pl.col("units") > 0))
            .group_by("sku_id").agg(market=pl.col("revenue").sum() / pl.col("units").sum()))
    return skus.select("sku_id", "list_price").join(sold, on="sku_id", how="left").select(
        "sku_id", market_price=pl.coalesce("market", "list_price"))


def plan_candidates(tables: SourceTables, scorer: DemandScorer, month: date,
                    customers: pl.Series | None = None) -> PlanCandidates:
    """Every customer (default: every customer who ever shipped) x launched SKU for `month`."""
    who = tables.shipments["customer_id"] if customers is None else customers
    query = plan_query(who, tables.skus, month)
    frame = scoring_frame(query, tables, scorer.spec)
    response = scorer.response(frame)
    cand = candidates(frame, response)
    extra = (frame.rows.select("customer_id", "sku_id")
             .join(tables.skus.select("sku_id", "secondary_category"), on="sku_id", how="left")
             .join(market_prices(tables.shipments, tables.skus, month), on="sku_id", how="left"))
    rows = cand.rows.with_columns(secondary_category=extra["secondary_category"])
    order = np.lexsort((rows["sku_id"].to_numpy(), rows["customer_id"].to_numpy()))
    ordered = Candidates(rows[order], {k: v[order] for k, v in cand.columns.items()},
                         response.take(order))
    usual = ordered.columns["usual_price"]
    return PlanCandidates(ordered, ordered.response.units(usual),
                          extra["market_price"].to_numpy()[order])
