"""Account facts that change demand or the allowed plans but that shipments do not reveal.

They live in the customers' documents (and in the simulator's truth) only:
- an announced category: the customer starts carrying it from a stated month,
  so its demand there is real from that month on (and its shipments show
  nothing, because the logged policy never adds a category by itself);
- wanted brands: brands it likes but has never been offered;
- a discount ceiling: above it the pricing committee refuses its approvals;
- policy locks: contractual minimum monthly volumes of named SKUs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deeprule.synth.rng import stream
from deeprule.synth.spec import WorldSpec

ANNOUNCE_SHARE = 0.45
"""Share of customers that announce a category they will start carrying."""
ANNOUNCE_HORIZON_MONTHS = 18
"""Announced categories start within this many months of the world's start (fixed, so
a longer world changes none of its earlier months)."""
LOCK_HORIZON_YEARS = 6.0
"""Locks stay below the SKU's list-price demand through this many years of trend."""
WANTED_SHARE = 0.5
"""Share of customers naming one or two brands they want but have never been offered."""
WANTED_AFFINITY = (0.6, 1.1)
"""Log brand affinity of a wanted brand (a core brand's range is 0.45..1.0)."""
LOCK_SHARE = 0.35
"""Share of customers with a supply contract that locks minimum volumes of named SKUs."""
LOCK_FRACTION = (0.4, 0.8)
"""A lock's minimum as a fraction of the SKU's worst-month demand at list price."""
NEVER = 10**6
"""A month index no world reaches: the category never enters the customer's scope."""


@dataclass(frozen=True)
class Announcements:
    """Per customer: the announced category (-1: none) and the month index it starts."""

    category: np.ndarray
    start: np.ndarray

    def scope_from(self, in_scope: np.ndarray) -> np.ndarray:
        """(n_customers, n_categories) first month index each category is in scope."""
        out = np.where(in_scope, -NEVER, NEVER).astype(np.int64)
        has = np.flatnonzero(self.category >= 0)
        out[has, self.category[has]] = self.start[has]
        return out


@dataclass(frozen=True)
class Locks:
    """Contractual minimum monthly units per (customer, SKU), aligned arrays."""

    cust: np.ndarray
    sku: np.ndarray
    min_units: np.ndarray


def announce_categories(spec: WorldSpec, in_scope: np.ndarray,
                        lean: np.ndarray) -> Announcements:
    """Some customers announce one category outside their scope, starting in a stated month.

    Most start inside the history (demand real from then on, shipments silent),
    some after its end (a plan for next year, a fact that must not act yet).
    """
    rng = stream(spec.seed, "announcements")
    n, n_cat = in_scope.shape
    keys = np.where(in_scope, -np.inf, np.log(lean) + rng.gumbel(size=(n, n_cat)))
    has = (rng.random(n) < ANNOUNCE_SHARE) & np.isfinite(keys.max(axis=1))
    start = rng.integers(1, ANNOUNCE_HORIZON_MONTHS, n)
    return Announcements(category=np.where(has, keys.argmax(axis=1), -1),
                         start=np.where(has, start, NEVER))


def wanted_brands(spec: WorldSpec, available: np.ndarray, core: np.ndarray) -> np.ndarray:
    """(n_customers, n_brands) brands a customer wants but never traded (not its core ones)."""
    rng = stream(spec.seed, "wanted_brands")
    n, n_brands = available.shape
    count = np.where(rng.random(n) < WANTED_SHARE, 1 + (rng.random(n) < 0.35), 0)
    keys = np.where(available & ~core, rng.gumbel(size=(n, n_brands)), -np.inf)
    rank = np.argsort(np.argsort(-keys, axis=1), axis=1)
    return (rank < count[:, None]) & np.isfinite(keys)


def discount_ceilings(spec: WorldSpec, credit: np.ndarray) -> np.ndarray:
    """Per customer: the deepest discount its approvals accept (better credit, deeper)."""
    rng = stream(spec.seed, "ceilings")
    raw = 0.11 + 0.08 * credit + rng.normal(0, 0.03, len(credit))
    return np.round(np.clip(raw, 0.06, 0.30), 2)


def policy_locks(spec: WorldSpec, cust: np.ndarray, sku: np.ndarray,
                 worst_units: np.ndarray) -> Locks:
    """1-2 locked staples (weighted by volume) among the traded pairs of some customers.

    `cust`, `sku` are the traded pairs; `worst_units` their demand at list price in
    the customer's worst month, so a lock can always be met at list price or below.
    """
    rng = stream(spec.seed, "locks")
    n_cust = int(cust.max()) + 1 if len(cust) else 0
    locked = rng.random(n_cust) < LOCK_SHARE
    n_locks = 1 + (rng.random(n_cust) < 0.4)
    keys = np.log(np.maximum(worst_units, 1e-9)) + rng.gumbel(size=len(cust))
    order = np.lexsort((-keys, cust))
    rank = np.arange(len(order)) - np.searchsorted(cust[order], cust[order])
    pick = order[locked[cust[order]] & (rank < n_locks[cust[order]])]
    fraction = rng.uniform(*LOCK_FRACTION, len(pick))
    units = np.floor(worst_units[pick] * fraction / 5.0) * 5.0
    keep = units >= 5.0
    return Locks(cust=cust[pick][keep], sku=sku[pick][keep], min_units=units[keep])
