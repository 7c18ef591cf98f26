"""True expected demand q(customer, sku, price, month) and its price elasticity.

    q = base[k, i] * season_i(month) * trend_i(month) * exp(price_term(k, i, p))

`base` holds everything that does not move with price or time: the
customer's scale, the demographics of its catchment (weighted per category),
the SKU's style appeal and the customer's brand affinity. Category scope moves
with time: a category the customer announced is out of scope (demand times
OUT_OF_SCOPE) before its stated month and in scope from then on.

The price term has a regime switch at a kink price: log-log elasticity is
`-s * e_below` well below the kink and `-s * e_above` above it, joined by a
logistic step a few percent wide, plus a curvature term `-g * p / ref` so
elasticity keeps growing with price and every SKU has a finite profit-optimal
price. Elasticity is negative everywhere, so demand strictly falls with price.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deeprule.synth.customers import Customers
from deeprule.synth.skus import Skus

KINK_WIDTH = 0.04
"""Width, in log price, of the switch between the below- and above-kink regimes."""
OUT_OF_SCOPE = 0.04
"""Demand multiplier for a category the customer does not trade."""
UNITS_PER_SCALE = 2.0
"""Monthly units of an average SKU at list price per unit of business_scale."""
# loadings of (log population, log income, share under 30, share over 55) per category
DEMOGRAPHIC_LOADINGS = {
    "Fragrance": (0.15, 0.35, 0.20, -0.10), "Skin Care": (0.15, 0.30, 0.10, 0.05),
    "Hair Care": (0.30, 0.00, 0.15, -0.05), "Laundry": (0.35, -0.10, -0.05, 0.10),
    "Home Cleaning": (0.30, -0.05, -0.10, 0.15), "Oral Care": (0.35, 0.00, 0.00, 0.00),
    "Bath & Body": (0.25, 0.10, 0.10, 0.00), "Paper Goods": (0.35, -0.10, 0.00, 0.10),
}
PREMIUM_INCOME_LOADING = 0.3


@dataclass(frozen=True)
class DemandModel:
    """Vectorized true demand; all methods take equal-length index/price/month arrays."""

    base: np.ndarray
    scope_from: np.ndarray
    """(n_customers, n_categories) first month ordinal each category is in scope."""
    sensitivity: np.ndarray
    sku_category: np.ndarray
    ref_price: np.ndarray
    e_below: np.ndarray
    e_above: np.ndarray
    log_kink: np.ndarray
    curvature: np.ndarray
    season_amplitude: np.ndarray
    season_peak: np.ndarray
    trend: np.ndarray
    start_ordinal: int

    def time_factor(self, sku: np.ndarray, month_ordinal: np.ndarray) -> np.ndarray:
        """Seasonality times trend; month_ordinal counts months since 1970-01."""
        month_of_year = np.mod(month_ordinal, 12) + 1
        season = 1.0 + self.season_amplitude[sku] * np.cos(
            2.0 * np.pi * (month_of_year - self.season_peak[sku]) / 12.0
        )
        years = (month_ordinal - self.start_ordinal) / 12.0
        return season * np.exp(self.trend[sku] * years)

    def log_price_factor(self, cust: np.ndarray, sku: np.ndarray, price: np.ndarray) -> np.ndarray:
        """log(q(p) / q(list price)): the integral of the elasticity from list price to p."""
        s, x, u, z = self._price_terms(cust, sku, price)
        below, c = self.e_below[sku], self.log_kink[sku]
        jump = self.e_above[sku] - below
        step = KINK_WIDTH * (np.logaddexp(0.0, z) - np.logaddexp(0.0, -c / KINK_WIDTH))
        return -s * (below * u + jump * step) - self.curvature[sku] * (x - 1.0)

    def elasticity(self, cust: np.ndarray, sku: np.ndarray, price: np.ndarray) -> np.ndarray:
        """d log q / d log p at `price` (always negative)."""
        s, x, _, z = self._price_terms(cust, sku, price)
        jump = self.e_above[sku] - self.e_below[sku]
        return -s * (self.e_below[sku] + jump / (1.0 + np.exp(-z))) - self.curvature[sku] * x

    def expected(self, cust: np.ndarray, sku: np.ndarray, price: np.ndarray,
                 month_ordinal: np.ndarray) -> np.ndarray:
        """Noise-free expected units."""
        return (self.base[cust, sku] * self.scope_factor(cust, sku, month_ordinal)
                * self.time_factor(sku, month_ordinal)
                * np.exp(self.log_price_factor(cust, sku, price)))

    def scope_factor(self, cust: np.ndarray, sku: np.ndarray,
                     month_ordinal: np.ndarray) -> np.ndarray:
        """1 where the SKU's category is in the customer's scope that month, else OUT_OF_SCOPE."""
        started = month_ordinal >= self.scope_from[cust, self.sku_category[sku]]
        return np.where(started, 1.0, OUT_OF_SCOPE)

    def _price_terms(
        self, cust: np.ndarray, sku: np.ndarray, price: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        s = self.sensitivity[cust, self.sku_category[sku]]
        x = price / self.ref_price[sku]
        u = np.log(x)
        z = np.clip((u - self.log_kink[sku]) / KINK_WIDTH, -700.0, 700.0)
        return s, x, u, z


def build_demand(customers: Customers, skus: Skus, start_ordinal: int) -> DemandModel:
    """Assemble the demand truth from customer traits, catchments and SKU parameters."""
    affinity = customers.brand_affinity[:, skus.brand]
    base = (UNITS_PER_SCALE * customers.scale[:, None] * demographic_factor(customers, skus)
            * skus.volume_level[None, :] * np.exp(affinity))
    scope_from = customers.announced.scope_from(customers.in_scope) + start_ordinal
    return DemandModel(
        base=base, scope_from=scope_from, sensitivity=customers.sensitivity,
        sku_category=skus.category, ref_price=skus.list_price, e_below=skus.elasticity_below,
        e_above=skus.elasticity_above, log_kink=np.log(skus.kink_ratio),
        curvature=skus.curvature, season_amplitude=skus.season_amplitude,
        season_peak=skus.season_peak_month, trend=skus.trend_per_year,
        start_ordinal=start_ordinal,
    )


def demographic_factor(customers: Customers, skus: Skus) -> np.ndarray:
    """(n_customers, n_skus) multiplier from the customer's catchment demographics.

    Standardized catchment features are weighted per category (premium SKUs
    lean further on income), then clipped so a remote customer is not zeroed.
    """
    reach = customers.catchment
    feats = np.column_stack([
        np.log1p(reach.population), np.log(reach.income), reach.share_young, reach.share_old,
    ])
    z = np.clip((feats - feats.mean(axis=0)) / np.maximum(feats.std(axis=0), 1e-9), -2.5, 2.5)
    loadings = np.array([DEMOGRAPHIC_LOADINGS[c] for c in skus.categories])[skus.category]
    log_factor = z @ loadings.T + PREMIUM_INCOME_LOADING * z[:, [1]] * skus.premium[None, :]
    return np.exp(log_factor)
