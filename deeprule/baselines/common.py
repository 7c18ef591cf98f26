"""What every baseline reads and returns, and how its prices become a constrained plan.

A baseline is a pricing policy: for each candidate pair of the plan month it
says whether the pair is eligible, its price, and the units its own demand
knowledge expects at that price. The plan itself comes from the project's exact
optimizer (`deeprule.optimize.plans.plans_from_options`, the per-customer MILP)
under the same hard constraints and contractual locks as every other method, so
baselines differ from DeepRule only in what they know and how they price.

Online baselines meet the market through `Market`: they post a price for every
candidate row and observe sampled (never expected) units. The evaluation layer
implements it from the synthetic world's demand of a month before the plan month;
nothing here reads the truth.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

import numpy as np
import polars as pl

from deeprule.optimize.accounts import AccountHistory
from deeprule.optimize.candidates import plan_query
from deeprule.optimize.milp import PlanOptions
from deeprule.optimize.plans import (
    Codes,
    PlanConfig,
    Plans,
    RuleOptions,
    RuleRef,
    plans_from_options,
)

OBJECTIVES = ("profit", "revenue")
"""What a baseline maximizes: the references maximize revenue (they know no cost); the
comparison scores profit and every baseline is told unit costs, so profit is the default."""


class Market(Protocol):
    """A market as an online learner meets it (the evaluation layer answers from a month
    before the plan month, so no method trains on the month it is scored on)."""

    def respond(self, price: np.ndarray) -> np.ndarray:
        """Sampled units of every row of `PlanMonth.rows` at these per-row prices."""
        ...


@dataclass(frozen=True)
class PlanMonth:
    """The plan month's candidate pairs (customer x launched SKU, sorted by customer then
    SKU: customer_id, sku_id, month, primary_category, secondary_category, cost,
    list_price), the SKU table, and the shipments strictly before the month."""

    rows: pl.DataFrame
    skus: pl.DataFrame
    history: pl.DataFrame

    @property
    def month(self) -> date:
        return self.rows["month"][0]

    @property
    def cost(self) -> np.ndarray:
        return self.rows["cost"].to_numpy()

    @property
    def list_price(self) -> np.ndarray:
        return self.rows["list_price"].to_numpy()

    @property
    def history_months(self) -> int:
        return max(1, self.history["month"].n_unique())


@dataclass(frozen=True)
class Pricing:
    """A baseline's decision per candidate row, and what it learned (for the report)."""

    price: np.ndarray
    units: np.ndarray
    """The baseline's own expected units at `price` (its demand knowledge, not the truth)."""
    eligible: np.ndarray
    info: dict[str, object] = field(default_factory=dict)


def plan_month(shipments: pl.DataFrame, skus: pl.DataFrame, month: date,
               customers: pl.Series | None = None) -> PlanMonth:
    """Candidates of `month` for `customers` (default: every customer who shipped before it)."""
    before = shipments.filter(pl.col("month") < month)
    if before.is_empty():
        raise ValueError(f"no shipments before the plan month {month.isoformat()}")
    who = before["customer_id"] if customers is None else customers
    rows = plan_query(who, skus, month).join(
        skus.select("sku_id", "primary_category", "secondary_category", "cost", "list_price"),
        on="sku_id", how="left", maintain_order="left")
    return PlanMonth(rows, skus, before)


def pair_history(month: PlanMonth) -> pl.DataFrame:
    """Per candidate row: mean monthly units over the history months (0 if never bought) and
    the usual price: the pair's units-weighted mean paid price, else the list price less the
    customer's mean discount, else the list price."""
    per_pair = month.history.group_by("customer_id", "sku_id").agg(
        pair_units=pl.col("units").sum(),
        pair_price=pl.col("revenue").sum() / pl.col("units").sum())
    per_customer = month.history.group_by("customer_id").agg(
        discount=(pl.col("discount") * pl.col("units")).sum() / pl.col("units").sum())
    joined = (month.rows.select("customer_id", "sku_id", "list_price")
              .join(per_pair, on=["customer_id", "sku_id"], how="left", maintain_order="left")
              .join(per_customer, on="customer_id", how="left", maintain_order="left"))
    return joined.select(
        hist_units=pl.col("pair_units").fill_null(0) / month.history_months,
        usual_price=pl.when(pl.col("pair_price").is_finite()).then(pl.col("pair_price"))
        .otherwise(pl.col("list_price") * (1 - pl.col("discount").fill_nan(0).fill_null(0))))


def sku_index(month: PlanMonth) -> tuple[list[str], np.ndarray]:
    """The plan month's SKUs (sorted) and each candidate row's position among them."""
    skus = month.rows["sku_id"].unique().sort().to_list()
    return skus, month.rows["sku_id"].replace_strict(skus, list(range(len(skus))),
                                                     return_dtype=pl.Int64).to_numpy()


def baseline_plans(month: PlanMonth, pricing: Pricing, history: AccountHistory,
                   locks: tuple[np.ndarray, np.ndarray], name: str,
                   config: PlanConfig | None = None) -> Plans:
    """The constrained plan of a baseline's pricing: the project's MILP (or heuristic, per
    `config.method`) on the baseline's eligible pairs, prices and expected units.

    Prices are held to [cost, list price] like a rule's; a locked pair is offered whatever
    the baseline says (at its price). `history` is indexed like `Codes.of(month.rows)`;
    `locks` is (min units, source document) per candidate row.
    """
    config = config or PlanConfig()
    started = time.perf_counter()
    codes = Codes.of(month.rows)
    lock, source = locks
    rows = np.flatnonzero(pricing.eligible | (lock > 0))
    cost, list_price = month.cost[rows], month.list_price[rows]
    options = PlanOptions.build(customer=codes.customer[rows], sku=rows,
                                category=codes.category[rows],
                                price=np.clip(pricing.price[rows], cost, list_price),
                                unit_cost=cost, max_units=np.maximum(pricing.units[rows], 0.0),
                                min_units=lock[rows])
    rule = RuleOptions(options, options.sku, codes.secondary[options.sku])
    plans = plans_from_options(month.rows, rule, codes, history, source, RuleRef(name, "baseline"),
                               config, config.method)
    return Plans(plans.lines, plans.customers, plans.result, time.perf_counter() - started)


def margin_of(price: np.ndarray, cost: np.ndarray, objective: str) -> np.ndarray:
    """What one unit sold at `price` earns under the objective (profit or revenue)."""
    if objective not in OBJECTIVES:
        raise ValueError(f"unknown objective {objective!r}: choose one of {OBJECTIVES}")
    return price - cost if objective == "profit" else price
