"""From a rule on the plan candidates to plan lines: options, the two optimizers, violations.

A rule decides which pairs are eligible (stock) and their price (held to [cost,
list price]); a contractual lock makes its pair eligible whatever the rule says
(at the rule's price, else the usual one). The optimizer decides units:
`appendix_e` (the paper's heuristic, deeprule/optimize/heuristic.py) or the exact
MILP (`solve_plans`, deeprule/optimize/milp.py) on the demand model's predicted
units, at the rule's price or a small grid of multiples of it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from datetime import date

import numpy as np
import polars as pl

from deeprule.models.calibration import CalibrationConfig
from deeprule.optimize.accounts import AccountHistory
from deeprule.optimize.candidates import PlanCandidates
from deeprule.optimize.heuristic import HeuristicConfig, appendix_e
from deeprule.optimize.milp import (
    EXACT,
    MIN_LINE_UNITS,
    STATUS_INFEASIBLE,
    PlanConstraints,
    PlanOptions,
    PlanResult,
    SalesTiers,
    efficient_options,
    solve_plans,
)
from deeprule.priors.aggregate import snapshot_at
from deeprule.rules import Decisions
from deeprule.search.objective import plan_prices

BAND_TOLERANCE = 1e-6
"""Relative slack when judging the purchase-value band (solver round-off)."""


METHODS = ("appendix_e", "milp")


@dataclass(frozen=True)
class PlanConfig:
    """Which optimizer, the price options of the exact one, the heuristic's constants and
    the hard constraints (both optimizers share them)."""

    method: str = "milp"
    """The exact MILP by default: on the same predictions it is never worse than the paper's
    Appendix E heuristic, and on `demo` it realizes +0.118 of the oracle's profit more
    (docs/baselines.md); `appendix_e` stays, as the paper's optimizer and the ablation."""
    price_factors: tuple[float, ...] = (1.0,)
    heuristic: HeuristicConfig = field(default_factory=HeuristicConfig)
    calibration: CalibrationConfig = field(default_factory=CalibrationConfig)
    """How the candidates' predictions are made honest before either optimizer reads them
    (deeprule/models/calibration.py)."""

    @property
    def constraints(self) -> PlanConstraints:
        return self.heuristic.constraints

    def calibrated(self, enabled: bool) -> PlanConfig:
        """This configuration with the calibration switched on or off (the ablation)."""
        return replace(self, calibration=replace(self.calibration, enabled=enabled))


@dataclass(frozen=True)
class RuleRef:
    """The rule that made pairs eligible and priced them, as an auditor finds it."""

    rule_id: str
    version: str


@dataclass(frozen=True)
class Plans:
    """Plan lines, one row per customer considered, the solver's result and its time."""

    lines: pl.DataFrame
    customers: pl.DataFrame
    result: PlanResult
    seconds: float

    @property
    def predicted_profit(self) -> float:
        """What the model predicts the planned customers' plans earn (what deploys a rule)."""
        planned = self.customers.filter(pl.col("status") == "optimal")
        return float(planned["pred_profit"].sum())


@dataclass(frozen=True)
class Codes:
    """Integer codes of the candidates' customers, categories and secondary categories."""

    customers: list[str]
    categories: list[str]
    customer: np.ndarray
    category: np.ndarray
    secondary: np.ndarray

    @staticmethod
    def of(rows: pl.DataFrame) -> Codes:
        customers = rows["customer_id"].unique().sort().to_list()
        categories = rows["primary_category"].unique().sort().to_list()
        secondary = rows["secondary_category"].fill_null("").unique().sort().to_list()
        return Codes(customers, categories, _index(rows["customer_id"], customers),
                     _index(rows["primary_category"], categories),
                     _index(rows["secondary_category"].fill_null(""), secondary))


@dataclass(frozen=True)
class RuleOptions:
    """Price options of the eligible pairs; `row` is each option's candidate row."""

    options: PlanOptions
    row: np.ndarray
    secondary: np.ndarray


def lock_columns(rows: pl.DataFrame, locks: pl.DataFrame | None) -> tuple[np.ndarray, np.ndarray]:
    """(min units, source document) per candidate row from customer_id, sku_id, min_units,
    doc_id rows (the priors' extracted locks); zeros and '' without locks."""
    if locks is None or locks.is_empty():
        return np.zeros(rows.height), np.full(rows.height, "", dtype=object)
    joined = rows.select("customer_id", "sku_id").join(
        locks.unique(["customer_id", "sku_id"], keep="last"), on=["customer_id", "sku_id"],
        how="left", maintain_order="left")
    return (joined["min_units"].cast(pl.Float64).fill_null(0.0).to_numpy(),
            joined["doc_id"].fill_null("").to_numpy().astype(object))


def priors_locks(priors: pl.DataFrame | None, month: date) -> pl.DataFrame | None:
    """customer_id, sku_id, min_units, doc_id of the locks stated before `month`: the priors'
    latest snapshot on or before it (`snapshot_at`; None: no priors yet)."""
    if priors is None:
        return None
    return (snapshot_at(priors, month).select("customer_id", "locks")
            .explode("locks").drop_nulls("locks").unnest("locks"))


def rule_options(plan: PlanCandidates, decisions: Decisions, codes: Codes, lock: np.ndarray,
                 price_factors: tuple[float, ...] = (1.0,)) -> RuleOptions:
    """Options of every stocked or locked pair at the rule's price times each factor (held
    to [cost, list price]), with the predicted units at that price."""
    cand = plan.cand
    base = np.where(decisions.stock, plan_prices(decisions, cand), cand.columns["usual_price"])
    rows = np.flatnonzero(decisions.stock | (lock > 0))
    cost, list_price = cand.columns["cost"][rows], cand.columns["list_price"][rows]
    response = cand.response.take(rows)
    parts = []
    for factor in dict.fromkeys(price_factors):
        price = np.clip(base[rows] * factor, cost, list_price)
        parts.append((rows, price, response.units(price)))
    row, price, units = (np.concatenate(x) for x in zip(*parts, strict=True))
    options = PlanOptions.build(customer=codes.customer[row], sku=row, category=codes.category[row],
                                price=price, unit_cost=cand.columns["cost"][row],
                                max_units=units, min_units=lock[row])
    return RuleOptions(options, options.sku, codes.secondary[options.sku])


def exact_plans(rule: RuleOptions, target: np.ndarray, constraints: PlanConstraints,
                customers: np.ndarray, tiers: SalesTiers = EXACT
                ) -> tuple[PlanResult, np.ndarray]:
    """The MILP on the predictions; (result, why each customer without a plan has none)."""
    options = efficient_options(rule.options)
    result = solve_plans(options, target, constraints, customers=customers, tiers=tiers)
    why = np.array([_why_no_plan(options, int(c), float(target[c]), constraints, status)
                    for c, status in zip(result.customers, result.status, strict=True)],
                   dtype=object)
    return result, why


def _why_no_plan(options: PlanOptions, customer: int, target: float,
                 constraints: PlanConstraints, status: str) -> str:
    """The first reason found for a customer's missing plan ('' if it has one)."""
    if status == "optimal":
        return ""
    if status != STATUS_INFEASIBLE:
        return status
    mine = options.customer == customer
    if len(np.unique(options.category[mine])) < constraints.min_categories:
        return f"fewer than {constraints.min_categories} categories have an eligible SKU"
    locked_value = _locked_value(options, mine)
    if locked_value > (1 + constraints.value_band) * target:
        return "locked purchase value above the band"
    return "no plan meets the constraints"


def _locked_value(options: PlanOptions, mask: np.ndarray) -> float:
    """Least purchase value the locks force (each locked SKU at its lowest price)."""
    locked = mask & (options.min_units > 0)
    value = options.price[locked] * options.min_units[locked]
    skus = options.sku[locked]
    return float(sum(value[skus == s].min() for s in np.unique(skus)))


def violations(result: PlanResult, target: np.ndarray, constraints: PlanConstraints
               ) -> pl.DataFrame:
    """Per planned customer: lines, categories, value and each hard constraint broken
    (SKU cap: categories over it; too few categories, outside the band: 0/1; locks missed)."""
    opts = result.options
    frame = pl.DataFrame({"customer": opts.customer.astype(np.int64),
                          "sku": opts.sku.astype(np.int64),
                          "category": opts.category.astype(np.int64),
                          "value": opts.price * result.units, "units": result.units,
                          "lock": opts.min_units})
    lines = frame.filter(pl.col("units") > 0)
    per_cat = lines.group_by("customer", "category").len()
    cats = per_cat.group_by("customer").agg(
        categories=pl.len(),
        over_sku_cap=(pl.col("len") > constraints.max_skus_per_category).sum().cast(pl.Int64))
    totals = lines.group_by("customer").agg(lines=pl.len(), value=pl.col("value").sum())
    missed = (frame.filter(pl.col("lock") > 0)
              .group_by("customer", "sku").agg(
                  met=(pl.col("units") >= pl.col("lock") - 1e-6).any())
              .group_by("customer").agg(locks_missed=(~pl.col("met")).sum().cast(pl.Int64)))
    planned = result.customers[result.status == "optimal"].astype(np.int64)
    band = constraints.value_band + BAND_TOLERANCE
    table = (pl.DataFrame({"customer": planned, "target": target[planned]})
             .join(totals, on="customer", how="left").join(cats, on="customer", how="left")
             .join(missed, on="customer", how="left")
             .with_columns(pl.col("lines", "categories", "over_sku_cap", "locks_missed")
                           .fill_null(0).cast(pl.Int64), pl.col("value").fill_null(0.0)))
    return table.with_columns(
        too_few_categories=(pl.col("categories") < constraints.min_categories).cast(pl.Int64),
        outside_value_band=((pl.col("value") / pl.col("target") - 1.0).abs() > band)
        .cast(pl.Int64),
    ).with_columns(violations=pl.sum_horizontal(
        "over_sku_cap", "too_few_categories", "outside_value_band", "locks_missed")
    ).drop("target")


def make_plans(plan: PlanCandidates, decisions: Decisions, codes: Codes, history: AccountHistory,
               locks: tuple[np.ndarray, np.ndarray], rule: RuleRef, config: PlanConfig,
               method: str | None = None) -> Plans:
    """Every customer's plan by `method` (default: the config's) on the rule's options.

    `history` is indexed like `codes` (customers, categories); `locks` is (min units,
    source document) per candidate row.
    """
    method = method or config.method
    if method not in METHODS:
        raise ValueError(f"unknown plan method {method!r}: choose one of {METHODS}")
    started = time.perf_counter()
    factors = config.price_factors if method == "milp" else (1.0,)
    options = rule_options(plan, decisions, codes, locks[0], factors)
    plans = plans_from_options(plan.rows, options, codes, history, locks[1], rule, config,
                               method, plan.tiers)
    return replace(plans, seconds=time.perf_counter() - started)


def plans_from_options(rows: pl.DataFrame, options: RuleOptions, codes: Codes,
                       history: AccountHistory, lock_source: np.ndarray, rule: RuleRef,
                       config: PlanConfig, method: str, tiers: SalesTiers = EXACT) -> Plans:
    """Every customer's plan by `method` over given price options (a rule's, or any other
    policy's: deeprule/baselines), with lines, customer table and violations.

    `rows` are the candidate rows the options' `row` points into; `lock_source` is the
    source document per candidate row; `tiers` how far past its forecast the MILP may
    recommend (default: not at all).
    """
    if method not in METHODS:
        raise ValueError(f"unknown plan method {method!r}: choose one of {METHODS}")
    started = time.perf_counter()
    customers = np.arange(len(codes.customers))
    if method == "appendix_e":
        allocation = appendix_e(options.options, options.secondary, history.mean_value,
                                history.share, history.fee_ratio, config.heuristic,
                                customers=customers, lock_source=lock_source[options.row])
        result, reason, why = allocation.result, allocation.reason, allocation.why_not
    else:
        result, why = exact_plans(options, history.mean_value, config.constraints, customers,
                                  tiers)
        reason = milp_reasons(result, lock_source)
    seconds = time.perf_counter() - started
    checked = violations(result, history.mean_value, config.constraints)
    lines = plan_lines(rows, result, reason, method, rule)
    table = customer_table(codes, history.mean_value, result, why, checked, method)
    return Plans(lines, table, result, seconds)


def plan_lines(rows: pl.DataFrame, result: PlanResult, reason: np.ndarray, method: str,
               rule: RuleRef) -> pl.DataFrame:
    """One row per recommended line: customer, SKU, units, price, predictions, reason."""
    opts = result.options
    chosen = np.flatnonzero(result.units >= MIN_LINE_UNITS / 2)
    row = opts.sku[chosen]
    price, units = opts.price[chosen], result.units[chosen]
    pred = opts.max_units[chosen]
    sold = np.minimum(units, pred)
    return rows[row].select("customer_id", "sku_id", "month", "primary_category",
                                 "secondary_category").with_columns(
        method=pl.lit(method), rule_id=pl.lit(rule.rule_id),
        rule_version=pl.lit(rule.version), units=units, price=price,
        unit_cost=opts.unit_cost[chosen], pred_units=pred, pred_revenue=price * sold,
        pred_profit=(price - opts.unit_cost[chosen]) * sold,
        locked_units=opts.min_units[chosen], reason=pl.Series(reason[chosen], dtype=pl.String))


def milp_reasons(result: PlanResult, lock_source: np.ndarray) -> np.ndarray:
    """One-line reasons of the exact plan's lines (lock, or the profit it was chosen for)."""
    opts = result.options
    reason = np.full(len(opts), "", dtype=object)
    for j in np.flatnonzero(result.units > 0):
        rate = (opts.price[j] - opts.unit_cost[j]) / opts.price[j]
        if opts.min_units[j] > 0:
            reason[j] = (f"locked by contract ({opts.min_units[j]:g} units), "
                         f"doc {lock_source[opts.sku[j]] or '?'}")
        elif result.units[j] > result.sold[j] + 1e-9:
            reason[j] = (f"exact plan: margin {rate:.0%} on {result.sold[j]:.1f} predicted units, "
                         f"{result.units[j]:.1f} recommended (past the forecast: a sales tier or "
                         f"the purchase-value band's floor)")
        else:
            reason[j] = f"exact plan: margin {rate:.0%} on {result.sold[j]:.1f} predicted units"
    return reason


def customer_table(codes: Codes, target: np.ndarray, result: PlanResult, why: np.ndarray,
                   checked: pl.DataFrame, method: str) -> pl.DataFrame:
    """One row per customer considered: status, why no plan, target and plan value, profit,
    violations (planned customers only)."""
    base = pl.DataFrame({
        "customer": result.customers.astype(np.int64),
        "customer_id": [codes.customers[c] for c in result.customers],
        "status": result.status.astype(str), "why_no_plan": why.astype(str),
        "target_value": target[result.customers], "plan_value": result.value,
        "pred_profit": result.profit,
    }).with_columns(method=pl.lit(method))
    return base.join(checked.drop("value"), on="customer", how="left").drop("customer")


def _index(values: pl.Series, levels: list[str]) -> np.ndarray:
    return values.replace_strict(levels, list(range(len(levels))),
                                 return_dtype=pl.Int64).to_numpy()
