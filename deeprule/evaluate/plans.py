"""Realized profit of plans under the true demand, and the oracle plan's profit.

Only benchmarks and `evaluation` assets call this: it takes a `World`, which
knows the hidden demand. The oracle prices every candidate pair at its truly
profit-maximizing price on a grid between cost and list price, and stocks it
only where that profit is positive; the gap of a plan is 1 − realized / oracle.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl

from deeprule.rules import Program, decide, parse_program
from deeprule.search.objective import RULE_FEATURES, Candidates, plan_prices
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
    """Realized profit of a rule's plan (prices held to [cost, list price], as planned; rows
    it does not stock, which may carry no price, are asked at the usual price and sell 0)."""
    decisions = decide(program, cand.columns)
    price = np.where(decisions.stock, plan_prices(decisions, cand), cand.columns["usual_price"])
    units = np.where(decisions.stock, truth(price), 0.0)
    return price_profit(cand, price, units, decisions.stock)


def compare_plans(cand: Candidates, truth: TrueUnits, logged_price: np.ndarray,
                  search_table: pl.DataFrame) -> pl.DataFrame:
    """Logged prices, the expert rule (iteration 0), the search's best rule and the oracle:
    predicted profit, realized profit under `truth`, gap to the oracle.

    The rules are re-parsed from the search table's audit text, so what is scored is
    exactly what an auditor reads.
    """
    oracle = oracle_profit(cand, truth)
    rows = [("logged prices", price_profit(cand, logged_price, cand.response.units(logged_price)),
             price_profit(cand, logged_price, truth(logged_price)))]
    expert = search_table.row(0, named=True)
    best = search_table.filter(pl.col("is_best")).row(0, named=True)
    for name, row in (("expert rule", expert), ("search best", best)):
        program = parse_program(row["rule"], RULE_FEATURES)
        rows.append((name, row["profit"], rule_profit(program, cand, truth)))
    rows.append(("oracle", None, oracle))
    return pl.DataFrame(rows, schema={"plan": pl.String, "predicted_profit": pl.Float64,
                                      "realized_profit": pl.Float64}, orient="row").with_columns(
        oracle_gap=1.0 - pl.col("realized_profit") / oracle)
