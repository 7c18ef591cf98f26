"""Plans realized under the true demand, and the constrained oracle they are measured against.

One rule of realization for every method and the oracle (docs/plans.md): a
customer takes min(recommended units, its true expected demand at the plan's
price) of each recommended SKU; units beyond demand earn nothing, an
under-forecast loses sales. The hard constraints are judged on the recommended
plan. The logged policy recommends the month's logged pairs at their logged
prices with no cap, so it takes its true expected demand there.

The oracle is the same MILP (`deeprule.optimize.solve_plans`) on the true demand,
at the truly best price per pair on a grid in [cost, list price]
(`deeprule.evaluate.oracle`), over every launched SKU, with the true locks and the
target purchase value of the same history. Only benchmarks and `evaluation`
assets call this module: it takes a `World`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from deeprule.evaluate.headroom import codes, history
from deeprule.evaluate.oracle import OracleConfig, lock_matrix, price_grid, solve_oracle
from deeprule.optimize import PlanResult
from deeprule.optimize.plans import violations
from deeprule.synth import World

OUTCOME_SCHEMA = {"plan": pl.String, "customers_planned": pl.Int64, "customers_without_plan":
                  pl.Int64, "units": pl.Float64, "revenue": pl.Float64, "profit": pl.Float64,
                  "predicted_profit": pl.Float64, "violations": pl.Int64}


@dataclass(frozen=True)
class OraclePlan:
    """The oracle's lines (realized: their sold units are the true demand; each carries its
    customer's violation count), one row per customer with history, and its solve time."""

    lines: pl.DataFrame
    customers: pl.DataFrame
    result: PlanResult
    seconds: float


def realize(world: World, lines: pl.DataFrame) -> pl.DataFrame:
    """Plan lines (customer_id, sku_id, month, price, units, unit_cost) with the true units at
    the plan's price and what the customer takes: sold, revenue, profit."""
    true = world.expected_units(lines["customer_id"], lines["sku_id"], lines["price"].to_numpy(),
                                lines["month"])
    sold = np.minimum(lines["units"].to_numpy(), true)
    price, cost = lines["price"].to_numpy(), lines["unit_cost"].to_numpy()
    return lines.with_columns(true_units=true, sold_units=sold, realized_revenue=price * sold,
                              realized_profit=(price - cost) * sold)


def logged_lines(world: World, month: date) -> pl.DataFrame:
    """The logged policy of `month`: its pairs at its prices, its true expected demand."""
    ship = world.shipments(month)
    cost = world.skus().select("sku_id", unit_cost="cost")
    lines = ship.select("customer_id", "sku_id", "month", price="unit_price").join(
        cost, on="sku_id", how="left")
    true = world.expected_units(lines["customer_id"], lines["sku_id"],
                                lines["price"].to_numpy(), lines["month"])
    return lines.with_columns(units=true)


def constrained_oracle(world: World, month: date, config: OracleConfig | None = None
                       ) -> OraclePlan:
    """The exact plan of every customer with history under the true demand and locks."""
    config = config or OracleConfig()
    started = time.perf_counter()
    past = history(world, month)
    skus = world.skus()
    categories = sorted(set(skus["primary_category"]))
    sku_cat = codes(skus["primary_category"], categories)
    launched = (skus["launch_month"] <= month).to_numpy()
    grid = price_grid(world, month, config.grid_points)
    locks = lock_matrix(world)
    eligible = np.broadcast_to(launched[None, :], locks.shape)
    result = solve_oracle(grid, eligible, sku_cat, locks, past.mean_value, config.constraints)
    seconds = time.perf_counter() - started
    customers = world.customers()["customer_id"]
    opts = result.options
    chosen = np.flatnonzero(result.units > 0)
    lines = pl.DataFrame({
        "customer_id": customers.gather(opts.customer[chosen]),
        "sku_id": skus["sku_id"].gather(opts.sku[chosen]),
        "month": pl.Series([month] * len(chosen), dtype=pl.Date),
        "primary_category": [categories[k] for k in opts.category[chosen]],
        "price": opts.price[chosen], "unit_cost": opts.unit_cost[chosen],
        "units": result.units[chosen], "locked_units": opts.min_units[chosen],
    })
    checked = violations(result, past.mean_value, config.constraints)
    table = pl.DataFrame({
        "customer": result.customers.astype(np.int64),
        "customer_id": customers.gather(result.customers),
        "status": result.status.astype(str), "target_value": past.mean_value[result.customers],
        "plan_value": result.value, "true_profit": result.profit,
    }).join(checked.drop("value"), on="customer", how="left").drop("customer")
    lines = lines.join(table.select("customer_id", customer_violations="violations"),
                       on="customer_id", how="left")
    return OraclePlan(realize(world, lines), table, result, seconds)


def outcome(plan: str, realized: pl.DataFrame, planned: int, without_plan: int,
            violations: int | None) -> dict[str, object]:
    """One row of the comparison: a plan's realized totals, the profit its own lines predicted
    (None without a demand model's prediction: the logged policy, the oracle), planned
    customers, violations (None: not judged, e.g. the logged policy)."""
    predicted = (float(realized["pred_profit"].sum()) if "pred_profit" in realized.columns
                 else None)
    return {"plan": plan, "customers_planned": planned, "customers_without_plan": without_plan,
            "units": float(realized["sold_units"].sum()),
            "revenue": float(realized["realized_revenue"].sum()),
            "profit": float(realized["realized_profit"].sum()), "predicted_profit": predicted,
            "violations": violations}


def plan_outcome(plan: str, realized: pl.DataFrame, customers: pl.DataFrame
                 ) -> dict[str, object]:
    """`outcome` of an optimizer's plan from its customer table (status, violations per
    customer with history); a customer without a plan contributes nothing."""
    planned = customers.filter(pl.col("status") == "optimal")
    return outcome(plan, realized, planned.height, customers.height - planned.height,
                   int(planned["violations"].fill_null(0).sum()))


def comparison(rows: list[dict[str, object]], oracle_profit: float) -> pl.DataFrame:
    """The outcome rows with each plan's gap to the oracle: 1 − profit / oracle profit."""
    return pl.DataFrame(rows, schema=OUTCOME_SCHEMA, orient="row").with_columns(
        oracle_gap=1.0 - pl.col("profit") / oracle_profit)
