"""A toy market whose best rule is known, for testing and benchmarking searchers.

Every row has constant price elasticity e, so the profit-maximizing price is
cost · e / (e − 1) (1.5 × cost at e = 3) whatever the usual price; every row sold
before, so stocking everything is right. With `usual_spread` = 0 the usual price is
1.2 × cost on every row (a rule `usual_price * c` can then be fitted to the optimum);
a spread draws it from 1.2 × cost × U(1 − spread, 1 + spread), so only a rule that
reads the cost reaches the optimum. Customers C0–C4 and C5–C9 form two segments
(`TOY_SEGMENTS`); `wholesaler` gives the second another elasticity, so that no single
markup is best in both (a segment loss a one-markup rule cannot close).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from deeprule.models.price import PriceBasis, PriceResponse
from deeprule.search.objective import RULE_FEATURES, Candidates

TOY_SEGMENTS = ("retail_chain / small", "wholesaler / large")
TOY_OPTIMUM = "def stock(row):\n    return True\ndef price(row):\n    return row.cost * 1.5\n"
"""The planted best rule at elasticity 3."""


def toy_market(rows: int = 300, elasticity: float = 3.0, usual_spread: float = 0.0,
               seed: int = 0, wholesaler: float | None = None) -> Candidates:
    """Candidates with units(p) = 50 (p / usual) ** -e on every row, list price 2 × cost
    (e = `wholesaler` in the second segment when given)."""
    segment = np.asarray([i % 10 // 5 for i in range(rows)])
    e = np.where(segment == 1, wholesaler or elasticity, elasticity)
    rng = np.random.default_rng(seed)
    cost = rng.uniform(2.0, 8.0, rows)
    list_price = cost * 2.0
    usual = cost * 1.2 * (rng.uniform(1 - usual_spread, 1 + usual_spread, rows)
                          if usual_spread else 1.0)
    basis = PriceBasis()
    slopes = np.zeros((rows, basis.size))
    slopes[:, 0] = e
    r_usual = np.log(usual / list_price)
    level = np.log(50.0) + e * r_usual
    response = PriceResponse(level, slopes, r_usual, list_price, basis)
    frame = pl.DataFrame({"customer_id": [f"C{i % 10}" for i in range(rows)],
                          "sku_id": [f"S{i}" for i in range(rows)],
                          "month": ["2024-12-01"] * rows,
                          "primary_category": [("Laundry", "Oral Care")[i % 2]
                                               for i in range(rows)],
                          "segment": [TOY_SEGMENTS[i] for i in segment]})
    columns = {"cost": cost, "list_price": list_price, "usual_price": usual,
               "market_price": usual, "hist_units": np.full(rows, 50.0),
               "pred_units": np.full(rows, 50.0), "pred_units_market": np.full(rows, 50.0),
               "elasticity": e, "elasticity_market": e}
    columns |= {name: np.zeros(rows) for name in RULE_FEATURES if name not in columns}
    return Candidates(frame, columns, response)
