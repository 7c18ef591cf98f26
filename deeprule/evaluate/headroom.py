"""How much profit the logged policy leaves on the table, and how much of it needs documents.

For a held-out month, under the true demand, per customer with history:
1. logged policy: the month's logged pairs at their logged prices;
2. best prices on the traded pairs: the same pairs, each at its truly best
   admissible grid price (assortment unchanged);
3. constrained oracle: the exact MILP over the whole catalogue (deeprule.evaluate.oracle);
4. the same oracle restricted to categories and brands the shipments before the
   month reveal (what a method that never reads documents could reach at best).
A customer whose MILP is infeasible keeps its logged plan (and is counted).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import polars as pl

from deeprule.evaluate.oracle import OracleConfig, PriceGrid, lock_matrix, price_grid, solve_oracle
from deeprule.optimize import PlanResult
from deeprule.optimize.milp import STATUS_OPTIMAL
from deeprule.synth import World

PLANS = ("logged policy", "best prices on traded pairs", "constrained oracle",
         "oracle on revealed info")


@dataclass(frozen=True)
class HeadroomTargets:
    """The issue's targets: room to gain, gain that needs assortment, gain that needs documents."""

    oracle_over_logged: float = 1.25
    price_share_of_gain: float = 0.60
    documents_share_of_logged: float = 0.05


@dataclass(frozen=True)
class History:
    """What the shipments before the plan month reveal, per customer (table order)."""

    mean_value: np.ndarray
    traded_category: np.ndarray
    traded_brand: np.ndarray


@dataclass(frozen=True)
class Headroom:
    """The four plans' true profit per customer, and the oracle solutions."""

    month: date
    profit: dict[str, np.ndarray]
    oracle: PlanResult
    revealed: PlanResult
    with_history: np.ndarray
    targets: HeadroomTargets = field(default_factory=HeadroomTargets)

    def table(self) -> pl.DataFrame:
        logged = float(self.profit[PLANS[0]].sum())
        infeasible = {PLANS[2]: _not_solved(self.oracle), PLANS[3]: _not_solved(self.revealed)}
        return pl.DataFrame({
            "plan": list(PLANS),
            "true_profit": [float(self.profit[p].sum()) for p in PLANS],
            "vs_logged": [float(self.profit[p].sum()) / logged for p in PLANS],
            "customers_kept_logged": [infeasible.get(p, 0) for p in PLANS],
        })

    def checks(self) -> pl.DataFrame:
        """Each target: measured value, threshold, met or not."""
        total = {p: float(self.profit[p].sum()) for p in PLANS}
        logged, prices, oracle, revealed = (total[p] for p in PLANS)
        gain = oracle - logged
        t = self.targets
        rows = [
            ("constrained oracle / logged", oracle / logged, ">=", t.oracle_over_logged),
            ("price-only share of the oracle's gain", (prices - logged) / gain if gain > 0
             else float("inf"), "<=", t.price_share_of_gain),
            ("(oracle - revealed) / logged", (oracle - revealed) / logged, ">=",
             t.documents_share_of_logged),
        ]
        return pl.DataFrame(rows, schema={"target": pl.String, "measured": pl.Float64,
                                          "op": pl.String, "threshold": pl.Float64},
                            orient="row").with_columns(
            met=pl.when(pl.col("op") == ">=").then(pl.col("measured") >= pl.col("threshold"))
            .otherwise(pl.col("measured") <= pl.col("threshold")))


def history(world: World, month: date) -> History:
    """Mean monthly purchase value and traded categories/brands over the months before `month`."""
    before = [m for m in world.spec.months if m < month]
    if not before:
        raise ValueError(f"no history before {month.isoformat()}: pick a later month")
    customers = world.customers()["customer_id"]
    skus = world.skus()
    categories = sorted(set(skus["primary_category"]))
    brands = sorted(set(skus["brand"]))
    sku_cat = codes(skus["primary_category"], categories)
    sku_brand = codes(skus["brand"], brands)
    value = np.zeros(len(customers))
    cat = np.zeros((len(customers), len(categories)), dtype=bool)
    brand = np.zeros((len(customers), len(brands)), dtype=bool)
    for m in before:
        ship = world.shipments(m).filter(pl.col("units") > 0)
        c = codes(ship["customer_id"], customers.to_list())
        s = codes(ship["sku_id"], skus["sku_id"].to_list())
        np.add.at(value, c, ship["revenue"].to_numpy())
        cat[c, sku_cat[s]] = True
        brand[c, sku_brand[s]] = True
    mean = value / len(before)
    return History(np.where(mean > 0, mean, np.nan), cat, brand)


def measure_headroom(world: World, month: date, config: OracleConfig | None = None) -> Headroom:
    """The four plans of `month` under the true demand (see the module docstring)."""
    config = config or OracleConfig()
    past = history(world, month)
    skus = world.skus()
    categories = codes(skus["primary_category"], sorted(set(skus["primary_category"])))
    brands = codes(skus["brand"], sorted(set(skus["brand"])))
    launched = (skus["launch_month"] <= month).to_numpy()
    grid = price_grid(world, month, config.grid_points)
    locks = lock_matrix(world)
    everything = np.broadcast_to(launched[None, :], locks.shape)
    revealed = everything & past.traded_category[:, categories] & past.traded_brand[:, brands]
    oracle = solve_oracle(grid, everything, categories, locks, past.mean_value,
                          config.constraints)
    blind = solve_oracle(grid, revealed, categories, locks, past.mean_value, config.constraints)
    logged, best_price = _logged_plans(world, month, grid)
    with_history = np.isfinite(past.mean_value)
    profit = {
        PLANS[0]: logged[with_history],
        PLANS[1]: best_price[with_history],
        PLANS[2]: _with_fallback(oracle, logged)[with_history],
        PLANS[3]: _with_fallback(blind, logged)[with_history],
    }
    return Headroom(month, profit, oracle, blind, with_history)


def _logged_plans(world: World, month: date, grid: PriceGrid) -> tuple[np.ndarray, np.ndarray]:
    """Per customer: true profit of the logged month, and of its pairs at their best price."""
    ship = world.shipments(month)
    customers = world.customers()["customer_id"].to_list()
    c = codes(ship["customer_id"], customers)
    s = codes(ship["sku_id"], world.skus()["sku_id"].to_list())
    price = ship["unit_price"].to_numpy()
    units = world.expected_units(ship["customer_id"], ship["sku_id"], price, ship["month"])
    logged = np.bincount(c, weights=(price - grid.cost[s]) * units, minlength=len(customers))
    margin = np.where(grid.allowed[:, c, s], (grid.price[:, c, s] - grid.cost[s])
                      * grid.units[:, c, s], -np.inf)
    best = np.bincount(c, weights=margin.max(axis=0), minlength=len(customers))
    return logged, best


def _with_fallback(result: PlanResult, logged: np.ndarray) -> np.ndarray:
    """Per customer (table order): the plan's profit, or the logged one where it has no plan."""
    out = logged.copy()
    solved = result.status == STATUS_OPTIMAL
    out[result.customers[solved]] = result.profit[solved]
    return out


def _not_solved(result: PlanResult) -> int:
    return int(np.sum(result.status != STATUS_OPTIMAL))


def codes(values: pl.Series, levels: list[str]) -> np.ndarray:
    """Index of each value in `levels` (every value must be present)."""
    return values.replace_strict(levels, list(range(len(levels))),
                                 return_dtype=pl.Int64).to_numpy()
