"""All-pairs reference for the affiliation's spatial questions.

Computes every store-customer Haversine distance (in store chunks, to bound
memory) and answers the same two questions as `affiliation.TreeSearch`. The
tests check the tree search against it and the benchmark times both.
"""

from __future__ import annotations

import numpy as np

from deeprule.geo.affiliation import (
    COVERAGE_ROUNDING,
    AffiliationInputs,
    AffiliationParams,
    Pairs,
    estimate_alpha,
)
from deeprule.geo.haversine import haversine_km

CHUNK_PAIRS = 4_000_000
"""Distance-matrix entries computed at once (32 MB of float64)."""


class BruteForceSearch:
    """Every distance, no index: slow and obviously right."""

    def _chunks(self, inputs: AffiliationInputs, customers: np.ndarray):
        """(store slice, distance block stores x customers) over all stores."""
        step = max(1, CHUNK_PAIRS // max(1, customers.size))
        lat = inputs.customer_lat[customers][None, :]
        lon = inputs.customer_lon[customers][None, :]
        for start in range(0, inputs.n_stores, step):
            rows = slice(start, min(start + step, inputs.n_stores))
            yield rows, haversine_km(inputs.store_lat[rows, None], inputs.store_lon[rows, None],
                                     lat, lon)

    def covering_pairs(
        self, inputs: AffiliationInputs, params: AffiliationParams
    ) -> tuple[float, Pairs]:
        """Alpha from every store's exact min ratio, then every pair tested (two passes)."""
        alpha = params.alpha
        if alpha is None:
            alpha = estimate_alpha(self.min_scaled_distance(inputs), params.coverage_target)
        return alpha, self.pairs_within(inputs, alpha)

    def min_scaled_distance(self, inputs: AffiliationInputs) -> np.ndarray:
        """Per store, min over active customers of d_jk / s_k (inf if none is active)."""
        active = inputs.active_customers()
        best = np.full(inputs.n_stores, np.inf)
        if active.size == 0:
            return best
        for rows, dist in self._chunks(inputs, active):
            best[rows] = (dist / inputs.scale[active][None, :]).min(axis=1)
        return best

    def pairs_within(self, inputs: AffiliationInputs, alpha: float) -> Pairs:
        """Every pair with d_jk <= alpha * s_k."""
        active = inputs.active_customers()
        limit = alpha * inputs.scale[active][None, :] * (1.0 + COVERAGE_ROUNDING)
        stores, customers, dists = [], [], []
        for rows, dist in self._chunks(inputs, active):
            j, k = np.nonzero(dist <= limit)
            stores.append(j + rows.start)
            customers.append(active[k])
            dists.append(dist[j, k])
        if not stores:
            return Pairs(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
        return Pairs(store=np.concatenate(stores), customer=np.concatenate(customers),
                     distance_km=np.concatenate(dists))
