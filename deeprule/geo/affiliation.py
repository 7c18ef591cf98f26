"""Store -> customer affiliation (the paper's demographic profile aggregation, spatial part).

Customer k reaches every store within r_k = alpha * s_k of its depot. A store
reached by several customers goes to one of them alone when that customer's
prior matches the store (similarity > theta); otherwise it is shared with
weights w_jk = (s_k / d_jk^2) / sum_c (s_c / d_jc^2).

The spatial work runs on k-d trees over unit-sphere points (chord distance is
monotone in great-circle distance, so the candidate sets are exact); every
distance that decides anything is then recomputed with the Haversine formula.
`deeprule.geo.reference` holds the all-pairs version the tests compare against.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain
from typing import Protocol

import numpy as np
from scipy.spatial import cKDTree

from deeprule.geo.haversine import EARTH_RADIUS_KM, haversine_km, km_to_chord, unit_xyz

ALPHA_SAMPLE = 1_024
"""Stores sampled for TreeSearch's first guess of alpha."""

GUESS_MARGIN = 1.1
GUESS_GROWTH = 1.5
"""The first guess is widened by GUESS_MARGIN, then by GUESS_GROWTH until it is large enough."""

COVERAGE_ROUNDING = 1e-12
"""Relative tolerance of the d <= r test (see within_radius)."""

_SLACK = 1e-9
"""Relative widening of tree search radii so rounding can never lose a candidate."""


@dataclass(frozen=True)
class AffiliationParams:
    """Tunable constants of the affiliation; docs/features.md explains each default."""

    coverage_target: float = 0.85
    theta: float = 0.6
    min_distance_km: float = 0.05
    alpha: float | None = None

    def __post_init__(self) -> None:
        if not 0.0 < self.coverage_target <= 1.0:
            raise ValueError(f"coverage_target must be in (0, 1], got {self.coverage_target}")
        if self.min_distance_km <= 0.0:
            raise ValueError(f"min_distance_km must be positive, got {self.min_distance_km}")
        if self.alpha is not None and self.alpha < 0.0:
            raise ValueError(f"alpha must be non-negative, got {self.alpha}")


@dataclass(frozen=True)
class AffiliationInputs:
    """Positions, scales and prior/profile vectors, aligned by store and customer index."""

    store_lat: np.ndarray
    store_lon: np.ndarray
    customer_lat: np.ndarray
    customer_lon: np.ndarray
    scale: np.ndarray
    store_axes: np.ndarray  # stores x A, from profile.axis_projection
    targets: np.ndarray  # customers x A, from profile.prior_targets

    @property
    def n_stores(self) -> int:
        return len(self.store_lat)

    @property
    def n_customers(self) -> int:
        return len(self.customer_lat)

    def active_customers(self) -> np.ndarray:
        """Indices of customers with a positive scale (a zero scale reaches nothing)."""
        return np.flatnonzero(np.nan_to_num(self.scale, nan=0.0) > 0.0)


@dataclass(frozen=True)
class Pairs:
    """Store-customer pairs with d_jk <= r_k and their Haversine distances."""

    store: np.ndarray
    customer: np.ndarray
    distance_km: np.ndarray

    def subset(self, keep: np.ndarray) -> Pairs:
        return Pairs(store=self.store[keep], customer=self.customer[keep],
                     distance_km=self.distance_km[keep])

    def sorted(self, n_customers: int) -> Pairs:
        """Ordered by store, then customer (a deterministic row order)."""
        return self.subset(np.argsort(self.store * n_customers + self.customer))


@dataclass(frozen=True)
class Affiliation:
    """The affiliation: one entry per (store, covering customer) pair, plus coverage facts."""

    alpha: float
    radius_km: np.ndarray  # per customer
    pairs: Pairs
    similarity: np.ndarray  # per pair
    exclusive: np.ndarray  # per pair: this customer won the store alone
    weight: np.ndarray  # per pair: w_jk
    n_stores: int

    def covered_stores(self) -> np.ndarray:
        """Bool per store: inside at least one customer's radius."""
        covered = np.zeros(self.n_stores, dtype=bool)
        covered[self.pairs.store] = True
        return covered


class SpatialSearch(Protocol):
    """The spatial half of the affiliation: indexed here, all-pairs in `reference`."""

    def covering_pairs(
        self, inputs: AffiliationInputs, params: AffiliationParams
    ) -> tuple[float, Pairs]:
        """alpha (params.alpha, or estimated for params.coverage_target) and every
        (store, customer) with d_jk <= alpha * s_k, with the Haversine distances."""
        ...


class TreeSearch:
    """k-d tree answers, exact by construction.

    Alpha needs min_k d_jk / s_k per store. A radius enumeration at any guess
    alpha_hi finds that ratio exactly for every store whose ratio is <= alpha_hi;
    once at least the target share of stores is among them, the target quantile
    is exactly known and the pairs are a subset of the enumeration. The guess
    comes from a sample of stores and is widened until it is large enough, so
    the sample changes only the speed, never the answer.
    """

    def covering_pairs(
        self, inputs: AffiliationInputs, params: AffiliationParams
    ) -> tuple[float, Pairs]:
        if params.alpha is not None:
            return params.alpha, self.pairs_within(inputs, params.alpha)
        if inputs.active_customers().size == 0 or inputs.n_stores == 0:
            return 0.0, self.pairs_within(inputs, 0.0)
        needed = int(np.ceil(params.coverage_target * inputs.n_stores))
        guess = self.sample_alpha(inputs, params.coverage_target) * GUESS_MARGIN
        while True:
            wide = self.pairs_within(inputs, guess)
            min_ratio = np.full(inputs.n_stores, np.inf)
            np.minimum.at(min_ratio, wide.store, wide.distance_km / inputs.scale[wide.customer])
            if np.isfinite(min_ratio).sum() >= needed:
                break
            guess *= GUESS_GROWTH
        alpha = estimate_alpha(min_ratio, params.coverage_target)
        return alpha, wide.subset(within_radius(wide, inputs.scale, alpha))

    @staticmethod
    def sample_alpha(inputs: AffiliationInputs, coverage_target: float) -> float:
        """Alpha estimated from a fixed random sample of stores, with distances taken as
        R * chord from one matrix product (a guess needs no Haversine exactness: the
        chord undershoots the arc by under 0.01% below 300 km); kept positive so that
        widening it can always reach every store."""
        rng = np.random.default_rng(0)
        take = min(ALPHA_SAMPLE, inputs.n_stores)
        rows = rng.choice(inputs.n_stores, size=take, replace=False)
        active = inputs.active_customers()
        cosine = unit_xyz(inputs.store_lat[rows], inputs.store_lon[rows]) @ unit_xyz(
            inputs.customer_lat[active], inputs.customer_lon[active]).T
        dist = EARTH_RADIUS_KM * np.sqrt(np.maximum(2.0 - 2.0 * cosine, 0.0))
        ratios = (dist / inputs.scale[active][None, :]).min(axis=1)
        return max(estimate_alpha(ratios, coverage_target), float(ratios.max()) * 1e-6, 1e-9)

    @staticmethod
    def pairs_within(inputs: AffiliationInputs, alpha: float) -> Pairs:
        """One tree over stores, one ball query per active customer (in C, both cores)."""
        active = inputs.active_customers()
        tree = cKDTree(unit_xyz(inputs.store_lat, inputs.store_lon), balanced_tree=False)
        centres = unit_xyz(inputs.customer_lat[active], inputs.customer_lon[active])
        reach = km_to_chord(alpha * inputs.scale[active]) * (1.0 + _SLACK) + _SLACK
        hits = tree.query_ball_point(centres, r=reach, workers=-1, return_sorted=False)
        owner, store = _flatten(hits)
        customer = active[owner]
        candidates = Pairs(store=store, customer=customer, distance_km=haversine_km(
            inputs.store_lat[store], inputs.store_lon[store],
            inputs.customer_lat[customer], inputs.customer_lon[customer]))
        return candidates.subset(within_radius(candidates, inputs.scale, alpha))


def within_radius(pairs: Pairs, scale: np.ndarray, alpha: float) -> np.ndarray:
    """Bool per pair: d_jk <= alpha * s_k, up to a relative rounding guard.

    The guard keeps the store that defines alpha (d = alpha * s exactly) covered
    whichever floating-point path computed its distance.
    """
    return pairs.distance_km <= alpha * scale[pairs.customer] * (1.0 + COVERAGE_ROUNDING)


def _flatten(hits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ball-query result lists -> (query index, hit index) arrays."""
    counts = np.fromiter(map(len, hits), dtype=np.int64, count=len(hits))
    flat = np.fromiter(chain.from_iterable(hits), dtype=np.int64, count=int(counts.sum()))
    return np.repeat(np.arange(len(hits)), counts), flat


def estimate_alpha(min_ratio: np.ndarray, coverage_target: float) -> float:
    """Smallest alpha that puts `coverage_target` of the stores inside some radius.

    Store j is covered exactly when alpha >= min_k d_jk / s_k, so the answer is
    that quantity's coverage_target quantile (the lower empirical one).
    """
    finite = min_ratio[np.isfinite(min_ratio)]
    if finite.size == 0:
        return 0.0
    needed = int(np.ceil(coverage_target * len(min_ratio)))
    if needed > finite.size:
        return float(finite.max())
    return float(np.partition(finite, needed - 1)[needed - 1])


def pair_similarity(inputs: AffiliationInputs, pairs: Pairs) -> np.ndarray:
    """sim(p_prior,k, q_j) for every pair (see profile.axis_projection)."""
    return np.einsum("pa,pa->p", inputs.targets[pairs.customer], inputs.store_axes[pairs.store])


def weigh_pairs(
    pairs: Pairs, similarity: np.ndarray, scale: np.ndarray, n_stores: int,
    params: AffiliationParams,
) -> tuple[np.ndarray, np.ndarray]:
    """(weight, exclusive) per pair.

    Weights are w_jk = (s_k / d_jk^2) / sum over the store's coverers, with d
    floored at min_distance_km. A store with any coverer whose similarity
    exceeds theta goes wholly (weight 1) to the most similar one (ties: the
    larger s_k / d_jk^2); its other coverers get weight 0.
    """
    raw = scale[pairs.customer] / np.maximum(pairs.distance_km, params.min_distance_km) ** 2
    total = np.bincount(pairs.store, weights=raw, minlength=n_stores)
    weight = raw / total[pairs.store] if raw.size else raw
    exclusive = np.zeros(raw.size, dtype=bool)
    claims = np.flatnonzero(similarity > params.theta)
    if claims.size:
        ranked = claims[np.lexsort((-raw[claims], -similarity[claims], pairs.store[claims]))]
        _, first = np.unique(pairs.store[ranked], return_index=True)
        exclusive[ranked[first]] = True
        claimed = np.zeros(n_stores, dtype=bool)
        claimed[pairs.store[exclusive]] = True
        weight = np.where(claimed[pairs.store], exclusive.astype(np.float64), weight)
    return weight, exclusive


def affiliate(
    inputs: AffiliationInputs, params: AffiliationParams,
    search: SpatialSearch | None = None,
) -> Affiliation:
    """Estimate alpha (unless fixed), find covering pairs, decide exclusivity and weights."""
    alpha, pairs = (search or TreeSearch()).covering_pairs(inputs, params)
    pairs = pairs.sorted(inputs.n_customers)
    radius = alpha * np.maximum(np.nan_to_num(inputs.scale, nan=0.0), 0.0)
    similarity = pair_similarity(inputs, pairs)
    weight, exclusive = weigh_pairs(pairs, similarity, inputs.scale, inputs.n_stores, params)
    return Affiliation(alpha=alpha, radius_km=radius, pairs=pairs, similarity=similarity,
                       exclusive=exclusive, weight=weight, n_stores=inputs.n_stores)
