"""Realized profit of plans under the true demand, and the oracle plan's profit.

Only benchmarks and `evaluation` assets call this: it takes a `World`, which
knows the hidden demand. The oracle prices every candidate pair at its truly
profit-maximizing price on a grid between cost and list price, and stocks it
only where that profit is positive; the gap of a plan is 1 − realized / oracle.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from deeprule.rules import Program, decide
from deeprule.search.objective import Candidates, plan_prices
from deeprule.synth import World

GRID = np.linspace(0.0, 1.0, 41)
"""Oracle price grid: cost + GRID * (list price − cost)."""

TrueUnits = Callable[[np.ndarray], np.ndarray]


def true_units(world: World, cand: Candidates) -> TrueUnits:
    """Expected units of each candidate row at given prices, from the hidden demand."""
    customers, skus = cand.rows["customer_id"], cand.rows["sku_id"]
    months = cand.rows["month"].to_numpy()
    return lambda prices: world.expected_units(customers, skus, prices, months)


def oracle_profit(cand: Candidates, truth: TrueUnits) -> float:
    cost, list_price = cand.columns["cost"], cand.columns["list_price"]
    best = np.zeros(cand.height)
    for share in GRID:
        price = cost + share * (list_price - cost)
        best = np.maximum(best, (price - cost) * truth(price))
    return float(best.sum())


def price_profit(cand: Candidates, price: np.ndarray, units: np.ndarray,
                 stock: np.ndarray | None = None) -> float:
    stock = np.ones(cand.height, dtype=bool) if stock is None else stock
    return float(np.sum(np.where(stock, (price - cand.columns["cost"]) * units, 0.0)))


def rule_profit(program: Program, cand: Candidates, truth: TrueUnits) -> float:
    """Realized profit of a rule's plan (prices held to [cost, list price], as planned)."""
    decisions = decide(program, cand.columns)
    price = plan_prices(decisions, cand)
    units = np.where(decisions.stock, truth(price), 0.0)
    return price_profit(cand, price, units, decisions.stock)
