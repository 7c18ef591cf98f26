"""The paper's Appendix E allocation, step by step, then the experiment's hard constraints.

Per customer with a forecast ŝ_c = Σ_m ŝ_{c,m} > θ and a history (A_c > 0), on one
price per pair (the rule's) and the predicted units ŝ_{c,m} at it:

1. locked pairs are fixed at their contractual units; each primary category's bounds
   L = 0.95·(h−0.10)·A_c, U = 1.05·(h+0.10)·A_c are reduced by the locked value in it
   (X_c in the paper's bounds is taken at its target A_c);
2. per primary category: candidates with margin rate r_m = (p−c)/p > FR_{c,k1} + 0.08,
   the top 5 per secondary category by r_m; their value X̂ = Σ ŝ·p decides
   - X̂ > U: scale down, x = ŝ·U/X̂;
   - L ≤ X̂ ≤ U: x = ŝ;
   - X̂ < L: x = ŝ, and fill ΔX = L − X̂ with the other eligible SKUs of the category by
     margin rate (highest first, i.e. loss rate ascending), at most 2 per secondary
     category, until their Σ ŝ·p covers ΔX; each filler gets min(ŝ, ΔX/|fill|/p) units
     (the paper's ΔX/|fill| is a value; dividing by the price makes it units);
3. the experiment's hard constraints, which the paper's steps alone do not ensure:
   at most 5 SKUs per primary category (locked lines first, then by predicted profit),
   at least 2 primary categories (the best predicted-profit line of another category
   is added at ŝ), then the global band 0.95·A_c ≤ X_c ≤ 1.05·A_c by scaling the
   unlocked lines (units above ŝ earn nothing under the realization rule).

A customer the steps cannot serve is reported with the reason (`Allocation.status`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from deeprule.optimize.milp import (
    MIN_LINE_UNITS,
    STATUS_INFEASIBLE,
    STATUS_NO_HISTORY,
    STATUS_NO_OPTIONS,
    STATUS_OPTIMAL,
    PlanConstraints,
    PlanOptions,
    PlanResult,
    _per_block,
)

STATUS_BELOW_THETA = "forecast below theta"


@dataclass(frozen=True)
class HeuristicConfig:
    """Appendix E's constants (the paper's values) and the hard constraints."""

    theta: float = 1.0
    category_slack: float = 0.10
    bound_tolerance: float = 0.05
    margin_over_fee: float = 0.08
    top_per_secondary: int = 5
    fill_per_secondary: int = 2
    constraints: PlanConstraints = field(default_factory=PlanConstraints)


@dataclass(frozen=True)
class Allocation:
    """The heuristic's plan: a PlanResult (status per customer: `optimal` means planned),
    the reason of every recommended line and, per customer, why it has no plan."""

    result: PlanResult
    reason: np.ndarray
    why_not: np.ndarray


@dataclass
class _Customer:
    """One customer's options (aligned arrays) and the state of its allocation."""

    price: np.ndarray
    cost: np.ndarray
    pred: np.ndarray
    k1: np.ndarray
    k2: np.ndarray
    lock: np.ndarray
    units: np.ndarray
    reason: np.ndarray

    @property
    def rate(self) -> np.ndarray:
        return (self.price - self.cost) / self.price

    @property
    def profit_at_pred(self) -> np.ndarray:
        return (self.price - self.cost) * self.pred

    def value(self, mask: np.ndarray | None = None) -> float:
        chosen = self.units if mask is None else np.where(mask, self.units, 0.0)
        return float(np.sum(self.price * chosen))


def appendix_e(options: PlanOptions, secondary: np.ndarray, mean_value: np.ndarray,
               share: np.ndarray, fee_ratio: np.ndarray, config: HeuristicConfig | None = None,
               customers: np.ndarray | None = None, lock_source: np.ndarray | None = None
               ) -> Allocation:
    """Allocate every customer's units. `options` has one price per pair; `secondary` is
    aligned with it; `mean_value[c]`, `share[c, k1]`, `fee_ratio[c, k1]` are indexed by
    the integer codes in `options.customer` and `options.category`."""
    config = config or HeuristicConfig()
    if customers is None:
        customers = np.unique(options.customer)
    lock_source = (np.full(len(options), "", dtype=object) if lock_source is None
                   else lock_source)
    starts = np.searchsorted(options.customer, customers, side="left")
    ends = np.searchsorted(options.customer, customers, side="right")
    units = np.zeros(len(options))
    reason = np.full(len(options), "", dtype=object)
    status = np.empty(len(customers), dtype=object)
    why_not = np.full(len(customers), "", dtype=object)
    for n, (c, lo, hi) in enumerate(zip(customers, starts, ends, strict=True)):
        block = slice(lo, hi)
        one = _Customer(options.price[block], options.unit_cost[block], options.max_units[block],
                        options.category[block], secondary[block], options.min_units[block],
                        np.zeros(hi - lo), np.full(hi - lo, "", dtype=object))
        status[n], why_not[n] = _allocate(one, float(mean_value[c]), share[c], fee_ratio[c],
                                          lock_source[block], config)
        if status[n] == STATUS_OPTIMAL:
            units[block], reason[block] = one.units, one.reason
    sold = np.minimum(units, options.max_units)
    profit = _per_block((options.price - options.unit_cost) * sold, starts, ends)
    value = _per_block(options.price * units, starts, ends)
    result = PlanResult(options, units, sold, np.asarray(customers), status, profit, value)
    return Allocation(result, reason, why_not)


def _allocate(one: _Customer, target: float, share: np.ndarray, fee: np.ndarray,
              sources: np.ndarray, config: HeuristicConfig) -> tuple[str, str]:
    """(status, why no plan) after filling `one.units` and `one.reason` in place."""
    if not np.isfinite(target) or target <= 0:
        return STATUS_NO_HISTORY, "no purchase before the plan month"
    if len(one.price) == 0:
        return STATUS_NO_OPTIONS, "no eligible SKU"
    forecast = float(one.pred.sum())
    if forecast <= config.theta:
        return STATUS_BELOW_THETA, f"forecast {forecast:.2f} units <= theta {config.theta}"
    locked = one.lock > 0
    one.units[locked] = one.lock[locked]
    for j in np.flatnonzero(locked):
        one.reason[j] = f"locked by contract ({one.lock[j]:g} units), doc {sources[j] or '?'}"
    for k in np.unique(one.k1):
        _allocate_category(one, int(k), target, float(share[k]), float(fee[k]), config)
    one.units[(one.units < MIN_LINE_UNITS) & ~locked] = 0.0
    return _hard_constraints(one, target, config)


def _allocate_category(one: _Customer, k: int, target: float, share: float, fee: float,
                       config: HeuristicConfig) -> None:
    """Step 2 for primary category `k`: candidates, then scale down / keep / fill."""
    in_k = one.k1 == k
    locked_value = one.value(in_k & (one.lock > 0))
    tol, slack = config.bound_tolerance, config.category_slack
    lower = max((1 - tol) * (share - slack) * target - locked_value, 0.0)
    upper = max((1 + tol) * (share + slack) * target - locked_value, 0.0)
    free = in_k & (one.lock <= 0) & (one.pred >= MIN_LINE_UNITS)
    threshold = fee + config.margin_over_fee
    high = free & (one.rate > threshold)
    cand = _top_per_group(high, one.k2, one.rate, config.top_per_secondary)
    value = float(np.sum(one.pred[cand] * one.price[cand]))
    label = (f"high margin {{rate:.0%}} > FR {fee:.0%} + {config.margin_over_fee:.0%}")
    if value > upper:
        scale = upper / value
        one.units[cand] = one.pred[cand] * scale
        label += f"; scaled to U ({scale:.0%} of forecast)"
    else:
        one.units[cand] = one.pred[cand]
    for j in np.flatnonzero(cand):
        one.reason[j] = label.format(rate=one.rate[j])
    if value < lower:
        _fill(one, free & ~cand, lower - value, config.fill_per_secondary)


def _fill(one: _Customer, pool: np.ndarray, gap: float, per_secondary: int) -> None:
    """Fillers by margin rate, at most `per_secondary` per secondary category, until their
    forecast value covers `gap`; each gets min(ŝ, gap / |fill| / p) units."""
    first = _top_per_group(pool, one.k2, one.rate, per_secondary)
    idx = np.flatnonzero(first)
    idx = idx[np.argsort(-one.rate[idx], kind="stable")]
    if len(idx) == 0:
        return
    covered = np.cumsum(one.pred[idx] * one.price[idx])
    count = int(np.searchsorted(covered, gap, side="left")) + 1
    chosen = idx[:count]
    one.units[chosen] = np.minimum(one.pred[chosen], gap / len(chosen) / one.price[chosen])
    for j in chosen:
        one.reason[j] = f"fill: category below L (margin {one.rate[j]:.0%})"


def _hard_constraints(one: _Customer, target: float, config: HeuristicConfig
                      ) -> tuple[str, str]:
    """SKU cap per category, minimum categories, then the global band; or why not."""
    hard = config.constraints
    locked = one.lock > 0
    for k in np.unique(one.k1):
        lines = np.flatnonzero((one.k1 == k) & (one.units > 0))
        if int(np.sum(locked[lines])) > hard.max_skus_per_category:
            return STATUS_INFEASIBLE, (f"{int(np.sum(locked[lines]))} locked SKUs in one "
                                       f"category > {hard.max_skus_per_category}")
        rank = np.lexsort((-_line_profit(one)[lines], ~locked[lines]))
        one.units[lines[rank[hard.max_skus_per_category:]]] = 0.0
    while len(np.unique(one.k1[one.units > 0])) < hard.min_categories:
        carried = np.isin(one.k1, one.k1[one.units > 0])
        pool = np.flatnonzero(~carried & (one.pred >= MIN_LINE_UNITS) & (one.price > one.cost))
        if len(pool) == 0:
            return STATUS_INFEASIBLE, (f"fewer than {hard.min_categories} categories have "
                                       "an eligible SKU with predicted demand and a margin")
        best = pool[np.argmax(one.profit_at_pred[pool])]
        one.units[best] = one.pred[best]
        one.reason[best] = "category minimum: best predicted profit in another category"
    return _global_band(one, target, config)


def _global_band(one: _Customer, target: float, config: HeuristicConfig) -> tuple[str, str]:
    """Scale the unlocked lines into 0.95·A_c ≤ X_c ≤ 1.05·A_c."""
    locked = one.lock > 0
    locked_value, total = one.value(locked), one.value()
    free = total - locked_value
    low, high = (1 - config.bound_tolerance) * target, (1 + config.bound_tolerance) * target
    if locked_value > (1 + config.constraints.value_band) * target:
        return STATUS_INFEASIBLE, (f"locked value {locked_value:,.0f} above the band's top "
                                   f"{(1 + config.constraints.value_band) * target:,.0f}")
    goal = min(max(total, low), high)
    if goal != total:
        if free <= 0:
            return STATUS_INFEASIBLE, "only locked lines, their value below the band"
        scale = max(goal - locked_value, MIN_LINE_UNITS * free) / free
        one.units[~locked] *= scale
        note = f"; x{scale:.2f} for the purchase-value band"
        for j in np.flatnonzero(~locked & (one.units > 0)):
            one.reason[j] += note
    one.reason[one.units <= 0] = ""
    return STATUS_OPTIMAL, ""


def _line_profit(one: _Customer) -> np.ndarray:
    return (one.price - one.cost) * np.minimum(one.units, one.pred)


def _top_per_group(mask: np.ndarray, group: np.ndarray, score: np.ndarray, n: int
                   ) -> np.ndarray:
    """Within `mask`, the `n` highest-`score` rows of each group (ties: first position)."""
    idx = np.flatnonzero(mask)
    if len(idx) == 0:
        return np.zeros_like(mask)
    order = idx[np.lexsort((-score[idx], group[idx]))]
    new = np.r_[True, group[order][1:] != group[order][:-1]]
    start = np.maximum.accumulate(np.where(new, np.arange(len(order)), 0))
    keep = np.zeros_like(mask)
    keep[order[np.arange(len(order)) - start < n]] = True
    return keep

