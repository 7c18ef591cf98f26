"""The constrained oracle: the exact per-customer plan under the true demand.

Every pair of the catalogue (launched by the plan month) is offered at a grid
of prices in [cost, list price] — only prices its discount ceiling allows,
plus the ceiling price itself — with the true expected units of the plan month
as the units it can sell; `deeprule.optimize.solve_plans` picks assortment,
prices and units under the paper's hard constraints and the contractual locks.
Restricting the pairs to categories and brands the customer has traded gives
what a method that never reads the documents could reach at best.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import polars as pl

from deeprule.optimize import PlanConstraints, PlanOptions, PlanResult, solve_plans
from deeprule.optimize.milp import MIN_LINE_UNITS
from deeprule.synth import World


@dataclass(frozen=True)
class OracleConfig:
    """Price grid and constraints of the oracle."""

    grid_points: int = 21
    constraints: PlanConstraints = field(default_factory=PlanConstraints)


@dataclass(frozen=True)
class PriceGrid:
    """(n_prices, n_customers, n_skus) candidate prices, their true units and admissibility."""

    price: np.ndarray
    units: np.ndarray
    allowed: np.ndarray
    cost: np.ndarray


def price_grid(world: World, month: date, grid_points: int) -> PriceGrid:
    """True units of every pair at every grid price the customer's ceiling admits."""
    skus = world.skus()
    cost, list_price = skus["cost"].to_numpy(), skus["list_price"].to_numpy()
    ceiling = world.true_customer_traits()["discount_ceiling"].to_numpy()
    floor = list_price[None, :] * (1.0 - ceiling[:, None])
    shares = np.linspace(0.0, 1.0, grid_points)
    grid = cost[None, :] + shares[:, None] * (list_price - cost)[None, :]
    n_cust = len(ceiling)
    prices = np.concatenate([np.broadcast_to(grid[:, None, :], (grid_points, n_cust, len(cost))),
                             np.maximum(floor, cost[None, :])[None]], axis=0)
    allowed = prices >= floor[None] - 1e-9
    units = np.stack([world.expected_units_matrix(p, month) for p in prices])
    return PriceGrid(price=prices, units=units, allowed=allowed, cost=cost)


def grid_options(grid: PriceGrid, eligible: np.ndarray, categories: np.ndarray,
                 min_units: np.ndarray) -> PlanOptions:
    """PlanOptions of the eligible (customer, sku) pairs, pruned to efficient prices.

    Vectorized form of `efficient_options`: per pair, prices below its
    revenue-maximizing admissible price are dropped unless the pair is locked.
    """
    revenue = np.where(grid.allowed, grid.price * grid.units, -np.inf)
    best = np.take_along_axis(grid.price, revenue.argmax(axis=0)[None], axis=0)[0]
    keep = (grid.allowed & (grid.units >= MIN_LINE_UNITS) & eligible[None]
            & ((grid.price >= best[None] - 1e-12) | (min_units[None] > 0)))
    g, cust, sku = np.nonzero(keep)
    return PlanOptions.build(customer=cust, sku=sku, category=categories[sku],
                             price=grid.price[g, cust, sku], unit_cost=grid.cost[sku],
                             max_units=grid.units[g, cust, sku], min_units=min_units[cust, sku])


def lock_matrix(world: World) -> np.ndarray:
    """(n_customers, n_skus) contractual minimum monthly units (0: no lock)."""
    customers = world.customers()["customer_id"]
    skus = world.skus()["sku_id"]
    locks = world.policy_locks()
    out = np.zeros((len(customers), len(skus)))
    cust = locks["customer_id"].replace_strict(customers, pl.int_range(len(customers),
                                                                       eager=True))
    sku = locks["sku_id"].replace_strict(skus, pl.int_range(len(skus), eager=True))
    out[cust.to_numpy(), sku.to_numpy()] = locks["min_units"].to_numpy()
    return out


def solve_oracle(grid: PriceGrid, eligible: np.ndarray, categories: np.ndarray,
                 min_units: np.ndarray, target_value: np.ndarray,
                 constraints: PlanConstraints) -> PlanResult:
    """The exact plan of every customer with history over the eligible pairs."""
    options = grid_options(grid, eligible, categories, min_units)
    customers = np.flatnonzero(np.isfinite(target_value) & (target_value > 0))
    return solve_plans(options, target_value, constraints, customers=customers)
