"""The exact per-customer plan: a MILP (HiGHS via scipy.optimize.milp) over price options.

Input is a long table of options, one row per (customer, SKU, price): the unit
price, unit cost, the units sellable at that price (a demand forecast, or the
true demand for the oracle) and the pair's contractual minimum (a lock). For
each customer the MILP picks at most one price per SKU and the units of each
chosen line, maximizing profit Σ (price − cost) · sold units under the
paper's hard constraints:

- at most `max_skus_per_category` SKUs per primary category;
- at least `min_categories` primary categories (each with some units);
- recommended purchase value Σ price · units within ±`value_band` of the
  customer's target (its mean monthly purchase value over the months before);
- every locked pair recommended with at least its minimum units (the contract's units are
  recommended even where the forecast sells fewer: those earn nothing, like padding).

Realization follows the project's rule: a customer takes min(recommended,
sellable) units, so units beyond demand earn nothing, and the constraints are
judged on the recommended plan. The MILP therefore sells up to the sellable
units and, when the value band asks for more than it can sell, pads one chosen
line with units that earn nothing (one padding variable: any chosen line can
carry it).

A forecast is not the demand. With `SalesTiers` the recommended units of a line run
past its forecast in tiers (multiples of the forecast), each tier's units earning its
expected share sold (from the forecast's validation errors): recommending beyond a
forecast that under-shoots sells more, and costs nothing but room in the value band.
The default, `EXACT`, is one tier at the forecast, all of it sold (the oracle's case).

Variables per customer: y_j (option j chosen, binary), u_jt (its units in tier t),
z_k (category k carried, binary), pad (purchase value beyond what sells), x_j (a locked
option's contractual units beyond its tiers, earning nothing).
Building is vectorized per customer; customers are independent problems.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_array, csr_array

MIN_LINE_UNITS = 0.01
"""A recommended line carries at least this many units (an empty line is not a line)."""

STATUS_OPTIMAL = "optimal"
STATUS_INFEASIBLE = "infeasible"
STATUS_NO_HISTORY = "no history"
STATUS_NO_OPTIONS = "no options"
STATUS_LIMIT = "time limit"


@dataclass(frozen=True)
class PlanConstraints:
    """The paper's hard constraints (its Table 1 setting)."""

    max_skus_per_category: int = 5
    min_categories: int = 2
    value_band: float = 0.25
    mip_rel_gap: float = 1e-6
    time_limit_s: float = 30.0
    workers: int = 2
    """Processes solving customers in parallel (customers are independent problems): the
    machine's 2 cores halve `paper`'s ~50 s of solving."""
    parallel_from: int = 500
    """Fewer customers than this are solved in this process: a worker costs ~2 s to start
    (it imports scipy), more than `demo`'s 200 customers take to solve (~3 s)."""


@dataclass(frozen=True)
class SalesTiers:
    """Recommended units as tiers of the forecast: tier t holds up to (upper[t] − upper[t−1])
    × forecast units, each expected to sell `sold[t]` (non-increasing: tiers fill in order)."""

    upper: tuple[float, ...] = (1.0,)
    sold: tuple[float, ...] = (1.0,)

    def __post_init__(self) -> None:
        bounds, shares = np.asarray(self.upper), np.asarray(self.sold)
        if (len(bounds) != len(shares) or not len(bounds) or np.any(np.diff(bounds) <= 0)
                or bounds[0] <= 0 or np.any(np.diff(shares) > 0) or np.any(shares <= 0)):
            raise ValueError(f"sales tiers need increasing positive bounds and non-increasing "
                             f"positive shares, got upper={self.upper} sold={self.sold}")

    @property
    def widths(self) -> np.ndarray:
        return np.diff(np.r_[0.0, self.upper])

    def describe(self) -> str:
        """One line per tier for the plan metadata: its range and expected share sold."""
        lower = (0.0, *self.upper[:-1])
        return "; ".join(f"x{a:g}-{b:g} the forecast sells {s:.0%}"
                         for a, b, s in zip(lower, self.upper, self.sold, strict=True))


EXACT = SalesTiers()
"""The forecast is the demand: recommend it, sell it all."""


@dataclass(frozen=True)
class PlanOptions:
    """Price options, one row each, sorted by customer then SKU (aligned arrays)."""

    customer: np.ndarray
    sku: np.ndarray
    category: np.ndarray
    price: np.ndarray
    unit_cost: np.ndarray
    max_units: np.ndarray
    min_units: np.ndarray

    def __len__(self) -> int:
        return len(self.customer)

    def take(self, index: np.ndarray) -> PlanOptions:
        return PlanOptions(**{name: getattr(self, name)[index] for name in _FIELDS})

    @staticmethod
    def build(**columns: np.ndarray) -> PlanOptions:
        """Options from equal-length columns (min_units defaults to 0), sorted as required."""
        columns.setdefault("min_units", np.zeros(len(columns["customer"])))
        arrays = {k: np.asarray(v) for k, v in columns.items()}
        order = np.lexsort((arrays["price"], arrays["sku"], arrays["customer"]))
        return PlanOptions(**{k: arrays[k][order] for k in _FIELDS})


_FIELDS = ("customer", "sku", "category", "price", "unit_cost", "max_units", "min_units")


@dataclass(frozen=True)
class PlanResult:
    """Recommended and sold units per option (0 where not chosen); per customer: status,
    profit of the sold units and recommended purchase value."""

    options: PlanOptions
    units: np.ndarray
    sold: np.ndarray
    customers: np.ndarray
    status: np.ndarray
    profit: np.ndarray
    value: np.ndarray

    @property
    def chosen(self) -> np.ndarray:
        return self.units > 0


def efficient_options(options: PlanOptions) -> PlanOptions:
    """Drop options no optimal plan needs: below a pair's revenue-maximizing price.

    Units may be cut, so an option offers any purchase value up to price ·
    max_units at profit rate (price − cost) / price. A lower price with no more
    revenue than the revenue-maximizing one is worse on both counts. Locked pairs
    keep every option (a lower price may leave more of the band for other lines; one
    that sells nothing still carries the lock, whose units are recommended unsold
    rather than the lock vanishing), and other options that cannot carry a line are
    dropped.
    """
    keep = (options.max_units >= MIN_LINE_UNITS) | (options.min_units > 0)
    options = options.take(np.flatnonzero(keep))
    pair = _group_ids(options.customer, options.sku)
    revenue = options.price * options.max_units
    best = np.zeros(pair.max() + 1 if len(pair) else 0)
    best_price = np.full_like(best, np.inf)
    order = np.lexsort((-options.price, revenue, pair))  # last per pair: max revenue, high price
    last = np.r_[pair[order][1:] != pair[order][:-1], True]
    best[pair[order][last]] = revenue[order][last]
    best_price[pair[order][last]] = options.price[order][last]
    efficient = (options.price >= best_price[pair]) | (options.min_units > 0)
    return options.take(np.flatnonzero(efficient))


def solve_plans(options: PlanOptions, target_value: np.ndarray,
                constraints: PlanConstraints | None = None,
                customers: np.ndarray | None = None, tiers: SalesTiers = EXACT) -> PlanResult:
    """Solve every customer's plan. `target_value[c]` is customer c's mean monthly purchase
    value (NaN: no history, no plan). `customers` defaults to those with options."""
    constraints = constraints or PlanConstraints()
    if customers is None:
        customers = np.unique(options.customer)
    customers = np.asarray(customers)
    starts = np.searchsorted(options.customer, customers, side="left")
    ends = np.searchsorted(options.customer, customers, side="right")
    units, sold = np.zeros(len(options)), np.zeros(len(options))
    status = np.empty(len(customers), dtype=object)
    chunks = np.array_split(np.arange(len(customers)), max(1, constraints.workers * 4))
    jobs = [(c, int(starts[c[0]]), int(ends[c[-1]])) for c in chunks if len(c)]
    args = [(options.take(np.arange(lo, hi)), target_value, constraints, customers[c], tiers)
            for c, lo, hi in jobs]
    if constraints.workers > 1 and len(jobs) > 1 and len(customers) >= constraints.parallel_from:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(constraints.workers, mp_context=context) as pool:
            parts = list(pool.map(_solve_range, *zip(*args, strict=True)))
    else:
        parts = [_solve_range(*a) for a in args]
    for (c, lo, hi), (part_status, part_units, part_sold) in zip(jobs, parts, strict=True):
        status[c], units[lo:hi], sold[lo:hi] = part_status, part_units, part_sold
    line_profit = (options.price - options.unit_cost) * sold
    profit = _per_block(line_profit, starts, ends)
    value = _per_block(options.price * units, starts, ends)
    return PlanResult(options, units, sold, customers, status, profit, value)


def _solve_range(options: PlanOptions, target_value: np.ndarray, constraints: PlanConstraints,
                 customers: np.ndarray, tiers: SalesTiers
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(status per customer, recommended and sold units per option) of consecutive customers
    whose options are exactly `options`."""
    starts = np.searchsorted(options.customer, customers, side="left")
    ends = np.searchsorted(options.customer, customers, side="right")
    units, sold = np.zeros(len(options)), np.zeros(len(options))
    status = np.empty(len(customers), dtype=object)
    for n, (c, lo, hi) in enumerate(zip(customers, starts, ends, strict=True)):
        target = float(target_value[c])
        if not np.isfinite(target) or target <= 0:
            status[n] = STATUS_NO_HISTORY
        elif hi <= lo:
            status[n] = STATUS_NO_OPTIONS
        else:
            rows = lo + np.flatnonzero(_undominated(options.take(np.arange(lo, hi)),
                                                    constraints.max_skus_per_category))
            status[n], units[rows], sold[rows] = _solve_customer(options.take(rows), target,
                                                                 constraints, tiers)
    return status, units, sold


def _undominated(block: PlanOptions, cap: int) -> np.ndarray:
    """Options of the SKUs no optimal plan needs dropped: those with `cap` better SKUs.

    SKU A dominates SKU B (same category, B not locked) when every option of B is
    matched by an option of A with at least its profit rate (price − cost) / price and
    at least its purchase-value capacity price · max_units: A can carry B's line at
    more profit. If `cap` SKUs dominate B, one of them is free in any plan that
    carries B (at most `cap` per category), and swapping B for it loses nothing; the
    relation is transitive, so the swaps end on undominated SKUs. Ties (identical
    frontiers) are broken by position so equal SKUs do not eliminate each other.
    """
    pair = _group_ids(np.zeros(len(block), dtype=np.int64), block.sku)
    starts = np.flatnonzero(np.r_[True, pair[1:] != pair[:-1]])
    rate = (block.price - block.unit_cost) / block.price
    capacity = block.price * block.max_units
    covers = (rate[:, None] >= rate[None, :]) & (capacity[:, None] >= capacity[None, :])
    any_option = np.logical_or.reduceat(covers, starts, axis=0)
    dominates = np.logical_and.reduceat(any_option, starts, axis=1)
    category = block.category[starts]
    locked = np.maximum.reduceat(block.min_units, starts) > 0
    order = np.arange(len(starts))
    strict = dominates & ~(dominates.T & (order[:, None] > order[None, :]))
    strict &= (category[:, None] == category[None, :]) & (order[:, None] != order[None, :])
    keep_pair = (strict.sum(axis=0) < cap) | locked
    return keep_pair[pair]


def _per_block(values: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    total = np.r_[0.0, np.cumsum(values)]
    return total[ends] - total[starts]


@dataclass(frozen=True)
class _Layout:
    """Where one customer's variables sit: y_j, u[t]_j (tier t), z_k, pad, x (per locked
    option, in `locked` order); `pair` and `cat` are each option's dense SKU and category."""

    y: np.ndarray
    u: np.ndarray
    z: np.ndarray
    pad: int
    x: np.ndarray
    locked: np.ndarray
    pair: np.ndarray
    cat: np.ndarray
    capacity: np.ndarray
    """Per tier and option: the most units the tier holds."""

    @staticmethod
    def of(block: PlanOptions, tiers: SalesTiers) -> _Layout:
        n, n_tier = len(block), len(tiers.upper)
        _, cat = np.unique(block.category, return_inverse=True)
        z = (1 + n_tier) * n + np.arange(int(cat.max()) + 1)
        locked = np.flatnonzero(block.min_units > 0)
        return _Layout(np.arange(n), n + np.arange(n_tier * n).reshape(n_tier, n), z,
                       int(z[-1]) + 1, int(z[-1]) + 2 + np.arange(len(locked)), locked,
                       _group_ids(np.zeros(n, dtype=np.int64), block.sku), cat,
                       tiers.widths[:, None] * block.max_units[None, :])

    @property
    def n_var(self) -> int:
        return self.pad + 1 + len(self.locked)


def _constraints(block: PlanOptions, target: float, constraints: PlanConstraints,
                 v: _Layout) -> LinearConstraint:
    """The hard constraints of one customer's MILP as sparse rows."""
    n, n_tier, n_cat, lk = len(block), len(v.u), len(v.z), v.locked
    rows = _Rows()
    locked_pair = np.zeros(int(v.pair.max()) + 1)
    np.maximum.at(locked_pair, v.pair, block.min_units)
    one, idx, k = np.ones(n), np.arange(n), np.arange(n_cat)
    # one price per SKU (exactly one for a locked SKU)
    rows.add(v.pair, v.y, one, np.where(locked_pair > 0, 1.0, 0.0), np.ones(len(locked_pair)))
    # units only on a chosen option, each tier up to its share of the forecast
    for t in range(n_tier):
        rows.add(np.r_[idx, idx], np.r_[v.u[t], v.y], np.r_[one, -v.capacity[t]], -np.inf,
                 np.zeros(n))
    # a locked option's unsold contractual units only on a chosen option
    if len(lk):
        at = np.arange(len(lk))
        rows.add(np.r_[at, at], np.r_[v.x, v.y[lk]],
                 np.r_[np.ones(len(lk)), -block.min_units[lk]], -np.inf, np.zeros(len(lk)))
    # at most max_skus per carried category; a carried category is recommended some units
    cap = float(constraints.max_skus_per_category)
    rows.add(np.r_[v.cat, k], np.r_[v.y, v.z], np.r_[one, np.full(n_cat, -cap)], -np.inf,
             np.zeros(n_cat))
    rows.add(np.r_[np.tile(v.cat, n_tier), v.cat[lk], k], np.r_[v.u.ravel(), v.x, v.z],
             np.r_[-np.ones(n_tier * n + len(lk)), np.full(n_cat, MIN_LINE_UNITS)],
             -np.inf, np.zeros(n_cat))
    rows.add(np.zeros(n_cat, dtype=np.int64), v.z, np.ones(n_cat),
             np.array([float(constraints.min_categories)]), np.array([np.inf]))
    # recommended purchase value (every tier, padding, unsold locked units) within the band
    band = constraints.value_band
    rows.add(np.zeros(n_tier * n + 1 + len(lk), dtype=np.int64), np.r_[v.u.ravel(), v.pad, v.x],
             np.r_[np.tile(block.price, n_tier), 1.0, block.price[lk]],
             np.array([(1 - band) * target]), np.array([(1 + band) * target]))
    # locks: at least the contractual units recommended
    pairs = np.flatnonzero(locked_pair > 0)
    if len(pairs):
        row_of = np.full(len(locked_pair), -1)
        row_of[pairs] = np.arange(len(pairs))
        mask = np.tile(row_of[v.pair] >= 0, n_tier)
        rows.add(np.r_[np.tile(row_of[v.pair], n_tier)[mask], row_of[v.pair][lk]],
                 np.r_[v.u.ravel()[mask], v.x], np.ones(int(mask.sum()) + len(lk)),
                 locked_pair[pairs], np.inf)
    return rows.constraint(v.n_var)


def _solve_customer(block: PlanOptions, target: float, constraints: PlanConstraints,
                    tiers: SalesTiers) -> tuple[str, np.ndarray, np.ndarray]:
    """(status, recommended units, predicted sold units) per option of one customer's MILP."""
    n, v = len(block), _Layout.of(block, tiers)
    band, lk = constraints.value_band, v.locked
    margin = block.price - block.unit_cost
    objective = np.r_[np.zeros(n), -np.outer(tiers.sold, margin).ravel(),
                      np.zeros(len(v.z) + 1 + len(lk))]
    integrality = np.r_[np.ones(n), np.zeros(v.u.size), np.ones(len(v.z)),
                        np.zeros(1 + len(lk))]
    bounds = Bounds(np.zeros(v.n_var), np.r_[np.ones(n), v.capacity.ravel(), np.ones(len(v.z)),
                                             (1 + band) * target, block.min_units[lk]])
    result = milp(objective, integrality=integrality, bounds=bounds,
                  constraints=_constraints(block, target, constraints, v),
                  options={"mip_rel_gap": constraints.mip_rel_gap,
                           "time_limit": constraints.time_limit_s})
    if result.x is None:
        empty = np.zeros(n)
        return (STATUS_INFEASIBLE if result.status == 2 else STATUS_LIMIT), empty, empty
    tiered = np.clip(result.x[v.u], 0.0, v.capacity).sum(axis=0)
    tiered[lk] += np.clip(result.x[v.x], 0.0, block.min_units[lk])
    units = np.where((result.x[v.y] > 0.5) & (tiered >= MIN_LINE_UNITS / 2), tiered, 0.0)
    missing = (1 - band) * target - float(np.sum(block.price * units))
    if missing > 0:  # the least padding the band needs (the solver may pad more: it is free)
        biggest = int(np.argmax(units * block.price))
        units[biggest] += missing / block.price[biggest]
    sold = np.minimum(units, block.max_units)
    return (STATUS_OPTIMAL if result.status == 0 else STATUS_LIMIT), units, sold


class _Rows:
    """Sparse constraint rows appended block by block (COO triplets and row bounds)."""

    def __init__(self) -> None:
        self.parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.lower: list[np.ndarray] = []
        self.upper: list[np.ndarray] = []
        self.count = 0

    def add(self, row: np.ndarray, col: np.ndarray, val: np.ndarray,
            lower: np.ndarray | float, upper: np.ndarray | float) -> None:
        n_rows = int(row.max()) + 1
        self.parts.append((self.count + row, col, val))
        self.lower.append(np.broadcast_to(lower, n_rows))
        self.upper.append(np.broadcast_to(upper, n_rows))
        self.count += n_rows

    def constraint(self, n_var: int) -> LinearConstraint:
        r, c, v = (np.concatenate(x) for x in zip(*self.parts, strict=True))
        matrix = csr_array(coo_array((v, (r, c)), shape=(self.count, n_var)))
        return LinearConstraint(matrix, np.concatenate(self.lower), np.concatenate(self.upper))


def _group_ids(customer: np.ndarray, sku: np.ndarray) -> np.ndarray:
    """Dense ids of consecutive (customer, sku) runs in sorted options."""
    if len(customer) == 0:
        return np.zeros(0, dtype=np.int64)
    new = np.r_[True, (customer[1:] != customer[:-1]) | (sku[1:] != sku[:-1])]
    return np.cumsum(new) - 1
