"""Plan candidates: every customer x every catalogue SKU of the plan month, with rule features.

A rule only ever saw the pairs a customer traded; a plan chooses from the whole
catalogue. The rows are assembled exactly like a scoring row of that month
(`deeprule.models.matrix.scoring_frame`: the pair's history strictly before the
month, else the customer's usual discount in the category), so the rule features
(`deeprule.search.objective.RULE_FEATURES`: the LLM priors of the pair's customer and
category, the demand model's predicted units and elasticity at the usual and the
sales-weighted market price p̄_m of Appendix E) are those the search scored. Next to
them: the SKU's secondary category.

With a `Calibration` (deeprule/models/calibration.py) the response the rows carry is
made honest first: never-traded pairs re-anchored on the hierarchical new-pair prior,
every row scaled by its segment's validation calibration; the rule features and the
optimizers then read the calibrated units. The rule search's rows (`search_candidates`:
the held-out months' shipments) carry the same calibration, so a rule's fitness and its
plan's predicted units agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from deeprule.models.calibration import Calibration, active, calibrated
from deeprule.models.demand import DemandScorer
from deeprule.models.frames import ScoringFrame, SourceTables
from deeprule.models.matrix import scoring_frame
from deeprule.optimize.milp import EXACT, SalesTiers
from deeprule.search.objective import Candidates, candidates
from deeprule.search.segments import customer_segments


@dataclass(frozen=True)
class PlanCandidates:
    """Candidate rows (sorted by customer, then SKU) with their rule features; the optimizers
    read the predicted units at the usual price and the market price among them."""

    cand: Candidates
    tiers: SalesTiers = EXACT
    """How far past their forecast the MILP may recommend units (the calibration's)."""

    @property
    def rows(self) -> pl.DataFrame:
        return self.cand.rows

    @property
    def pred_units(self) -> np.ndarray:
        return self.cand.columns["pred_units"]

    @property
    def market_price(self) -> np.ndarray:
        return self.cand.columns["market_price"]


def plan_query(customers: pl.Series, skus: pl.DataFrame, month: date) -> pl.DataFrame:
    """customer_id x sku_id for `month`, sorted; SKUs launched after the month are left out."""
    catalogue = skus
    if "launch_month" in skus.columns:
        catalogue = skus.filter(pl.col("launch_month").is_null()
                                | (pl.col("launch_month") <= month))
    return (pl.DataFrame({"customer_id": customers.unique().sort()})
            .join(catalogue.select("sku_id").sort("sku_id"), how="cross")
            .with_columns(month=pl.lit(month, dtype=pl.Date)))


def plan_candidates(tables: SourceTables, scorer: DemandScorer, month: date,
                    customers: pl.Series | None = None,
                    calibration: Calibration | None = None) -> PlanCandidates:
    """Every customer (default: every customer who ever shipped) x launched SKU for `month`,
    its predictions calibrated when `calibration` is given (and enabled)."""
    who = tables.shipments["customer_id"] if customers is None else customers
    query = plan_query(who, tables.skus, month)
    frame = scoring_frame(query, tables, scorer.spec)
    response = calibrated(calibration, frame, scorer.response(frame), tables)
    cand = candidates(frame, response, tables.shipments)
    secondary = (frame.rows.select("sku_id")
                 .join(tables.skus.select("sku_id", "secondary_category"), on="sku_id",
                       how="left", maintain_order="left"))
    rows = cand.rows.with_columns(secondary_category=secondary["secondary_category"])
    order = np.lexsort((rows["sku_id"].to_numpy(), rows["customer_id"].to_numpy()))
    tiers = on.tiers if (on := active(calibration)) is not None else EXACT
    return PlanCandidates(Candidates(rows[order], {k: v[order] for k, v in cand.columns.items()},
                                     response.take(order)), tiers)


def search_candidates(tables: SourceTables, scorer: DemandScorer, held_out: ScoringFrame,
                      calibration: Calibration | None, customers: pl.DataFrame
                      ) -> Candidates:
    """The rule search's rows: the held-out months' shipments, each labeled with its
    customer's segment (type x scale band, from `customers`: `customer_features` or the raw
    customers table), their predictions calibrated as the plans' are
    (`validation_calibration`; None: the model's own)."""
    response = calibrated(calibration, held_out, scorer.response(held_out), tables)
    return candidates(held_out, response, tables.shipments, customer_segments(customers))
