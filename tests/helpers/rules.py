"""Rules as a scripted LLM writes them (the proposal schema's JSON), and a toy market whose
best rule is known."""

import json

import numpy as np
import polars as pl

from deeprule.models.price import PriceBasis, PriceResponse
from deeprule.search.objective import RULE_FEATURES, Candidates

ROWS = 300
SEGMENTS = ("retail_chain / small", "wholesaler / large")
"""The toy market's customer segments (customers C0-C4 and C5-C9)."""
SUMMARY = json.dumps({
    "initial_approach": "usual price everywhere", "improvements": "a 1.3 x cost markup",
    "fitness_trend": "rose once, then flat", "final_performance": "profit +20 %",
    "key_features": ["cost"], "limitations": "one markup for every customer"})
"""A phase summary as a scripted LLM writes it."""


def markup_rule(markup: float, reflection: str = "price as a markup on cost",
                base: str = "cost") -> str:
    """A reflection and the rule: stock what sold, price = `base` x `markup` (rules on
    different bases have different structures: the search refuses a structure twice)."""
    price = {"kind": "op", "op": "*", "left": {"kind": "feature", "name": base},
             "right": {"kind": "number", "value": markup}}
    stock = {"left": {"kind": "feature", "name": "hist_units"}, "cmp": ">",
             "right": {"kind": "number", "value": 0.0}}
    return json.dumps({"reflection": reflection, "stock": stock, "price": price})


def toy_candidates(elasticity: float = 3.0, wholesaler: float | None = None) -> Candidates:
    """Constant elasticity e: the profit-maximizing price is cost * e / (e - 1) = 1.5 cost.
    `wholesaler` gives the second segment another elasticity: then no single markup is
    best everywhere (a segment loss a one-markup rule cannot close)."""
    segment = np.asarray([i % 10 // 5 for i in range(ROWS)])
    elasticity = np.where(segment == 1, wholesaler or elasticity, elasticity)
    rng = np.random.default_rng(0)
    cost = rng.uniform(2.0, 8.0, ROWS)
    list_price = cost * 2.0
    usual = cost * 1.2
    basis = PriceBasis()
    slopes = np.zeros((ROWS, basis.size))
    slopes[:, 0] = elasticity
    r_usual = np.log(usual / list_price)
    level = np.log(50.0) + elasticity * r_usual  # units(p) = 50 (p / usual) ** -e
    response = PriceResponse(level, slopes, r_usual, list_price, basis)
    rows = pl.DataFrame({"customer_id": [f"C{i % 10}" for i in range(ROWS)],
                         "sku_id": [f"S{i}" for i in range(ROWS)],
                         "month": ["2024-12-01"] * ROWS,
                         "primary_category": ["Laundry", "Oral Care"] * (ROWS // 2),
                         "segment": [SEGMENTS[i] for i in segment]})
    columns = {"cost": cost, "list_price": list_price, "usual_price": usual,
               "market_price": usual, "hist_units": np.full(ROWS, 50.0),
               "pred_units": np.full(ROWS, 50.0), "pred_units_market": np.full(ROWS, 50.0),
               "elasticity": elasticity, "elasticity_market": elasticity}
    columns |= {name: np.zeros(ROWS) for name in RULE_FEATURES if name not in columns}
    return Candidates(rows, columns, response)
