"""Distributor customers: what the business sees of them, and the traits it does not.

Observable columns (location, type, scale, credit limit, raw attr_* columns)
are noisy reflections of latent traits. The traits themselves (price
sensitivity per category, brand preferences, category scope, loyalty, credit
quality) drive demand and the documents, and stay hidden from learners.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import polars as pl

from deeprule.schema import CUSTOMERS
from deeprule.synth.accounts import (
    NEVER,
    WANTED_AFFINITY,
    Announcements,
    announce_categories,
    discount_ceilings,
    wanted_brands,
)
from deeprule.synth.geography import (
    Catchment,
    Cities,
    Stores,
    catchment,
    nearest_city,
    operating_radius_km,
    scatter_around,
)
from deeprule.synth.rng import stream
from deeprule.synth.skus import Skus
from deeprule.synth.spec import WorldSpec
from deeprule.synth.vocab import (
    CUSTOMER_TYPES,
    PREMIUM_CATEGORIES,
    PRICE_SENSITIVITY_EDGES,
    PRICE_SENSITIVITY_LEVELS,
    SCALE_BAND_EDGES,
    SCALE_BANDS,
)

# per customer type: log-shift of business scale, log-shift of price sensitivity,
# and the categories it leans towards
TYPE_PROFILE: dict[str, tuple[float, float, tuple[str, ...]]] = {
    "wholesaler": (0.6, 0.15, ("Laundry", "Home Cleaning", "Paper Goods")),
    "retail chain": (0.4, 0.0, ("Hair Care", "Bath & Body", "Oral Care")),
    "convenience network": (-0.3, -0.2, ("Oral Care", "Paper Goods", "Home Cleaning")),
    "pharmacy chain": (0.0, -0.1, ("Skin Care", "Oral Care", "Bath & Body")),
    "online reseller": (-0.1, 0.2, ("Fragrance", "Skin Care", "Hair Care")),
    "institutional buyer": (-0.2, 0.05, ("Home Cleaning", "Paper Goods", "Laundry")),
}
PREMIUM_SENSITIVITY = 0.7
"""Premium categories are less price-sensitive than everyday ones for the same customer."""
CATEGORY_SENSITIVITY_SD = 0.3
"""Log-sd of a customer's sensitivity across its categories."""
TYPE_SHARES = (0.25, 0.2, 0.18, 0.12, 0.15, 0.10)
NAME_WORDS = (
    ("Golden", "Northern", "Harbour", "Silver", "Evergreen", "Summit", "Riverside", "Pioneer",
     "Bright", "Union", "Crown", "Heritage", "Metro", "Coastal", "Prairie", "Oak"),
    ("Star", "Bridge", "Gate", "Valley", "Field", "Point", "Lane", "Square", "Ridge", "Way"),
    ("Trading Co.", "Distribution", "Wholesale Ltd", "Supply Group", "Retail Partners",
     "Merchants", "Logistics", "Commerce"),
)


@dataclass(frozen=True)
class Customers:
    """Observable customer table plus the latent trait arrays, aligned by customer index."""

    frame: pl.DataFrame
    ids: list[str]
    names: list[str]
    city: list[str]
    region: list[str]
    customer_type: list[str]
    scale: np.ndarray
    years_active: np.ndarray
    sensitivity: np.ndarray
    in_scope: np.ndarray
    brand_affinity: np.ndarray
    core_brand: np.ndarray
    wanted_brand: np.ndarray
    announced: Announcements
    ceiling: np.ndarray
    loyalty: np.ndarray
    credit: np.ndarray
    catchment: Catchment

    def mean_sensitivity(self) -> np.ndarray:
        """Average price sensitivity over the categories the customer trades."""
        return (self.sensitivity * self.in_scope).sum(axis=1) / self.in_scope.sum(axis=1)

    def sensitivity_level(self) -> np.ndarray:
        return np.array(PRICE_SENSITIVITY_LEVELS, dtype=object)[
            np.digitize(self.mean_sensitivity(), PRICE_SENSITIVITY_EDGES)
        ]

    def category_sensitivity_level(self) -> np.ndarray:
        """(n_customers, n_categories) low/medium/high per category, as its buyers describe it."""
        return np.array(PRICE_SENSITIVITY_LEVELS, dtype=object)[
            np.digitize(self.sensitivity, PRICE_SENSITIVITY_EDGES)
        ]

    def scale_band(self) -> np.ndarray:
        return np.array(SCALE_BANDS, dtype=object)[np.digitize(self.scale, SCALE_BAND_EDGES)]


def make_customers(spec: WorldSpec, cities: Cities, stores: Stores, skus: Skus) -> Customers:
    """Customers near cities, their latent traits, catchment and observable attributes."""
    rng = stream(spec.seed, "customers")
    n = spec.n_customers
    lat, lon = scatter_around(rng, cities, n, spread_factor=0.8)
    city = nearest_city(lat, lon, cities)
    ctype = rng.choice(len(CUSTOMER_TYPES), size=n, p=np.array(TYPE_SHARES))
    scale_shift, sens_shift, _ = (np.array(v) for v in zip(*TYPE_PROFILE.values(), strict=True))
    scale = np.round(np.maximum(1.0, 40.0 * np.exp(rng.normal(0, 0.9, n) + scale_shift[ctype])), 2)
    lean = _type_lean(ctype, skus.categories)
    in_scope = _category_scope(rng, lean)
    sensitivity = _sensitivity(rng, ctype, sens_shift, skus.categories)
    affinity, core = _brand_preferences(rng, in_scope, skus.brand_category_presence())
    loyalty = rng.beta(4.0, 2.0, n)
    credit = rng.beta(5.0, 2.0, n)
    announced = announce_categories(spec, in_scope, lean)
    wanted, affinity = _wanted(spec, rng, in_scope, announced, core, affinity, skus)
    years = np.clip(np.round(loyalty * 25 + rng.gamma(2.0, 2.0, n)), 0, 60).astype(np.int64)
    reach = catchment(lat, lon, operating_radius_km(scale), stores)
    ids = [f"C{i:0{max(4, len(str(n)))}d}" for i in range(1, n + 1)]
    names = _unique_names([_trading_name(rng) for _ in range(n)], cities.name[city].tolist())
    credit_limit = np.round(scale * 1000 * (0.5 + credit) * np.exp(rng.normal(0, 0.2, n)), -2)
    customers = Customers(
        frame=pl.DataFrame(), ids=ids, names=names, city=cities.name[city].tolist(),
        region=cities.region[city].tolist(), customer_type=[CUSTOMER_TYPES[t] for t in ctype],
        scale=scale, years_active=years, sensitivity=sensitivity, in_scope=in_scope,
        brand_affinity=affinity, core_brand=core, wanted_brand=wanted, announced=announced,
        ceiling=discount_ceilings(spec, credit), loyalty=loyalty, credit=credit,
        catchment=reach,
    )
    base = pl.DataFrame(
        {
            "customer_id": ids, "name": names, "latitude": np.round(lat, 6),
            "longitude": np.round(lon, 6), "city": customers.city, "region": customers.region,
            "customer_type": customers.customer_type, "business_scale": scale,
            "years_active": years, "credit_limit": np.maximum(credit_limit, 0.0),
        },
        schema=CUSTOMERS.polars_schema(),
    )
    extra = _raw_attributes(rng, customers, spec.n_extra_customer_attrs)
    return replace(customers, frame=pl.concat([base, extra], how="horizontal"))


def _trading_name(rng: np.random.Generator) -> str:
    return " ".join(words[rng.integers(len(words))] for words in NAME_WORDS)


def _unique_names(names: list[str], cities: list[str]) -> list[str]:
    """Repeated trading names get their city in front (and a number if still repeated)."""
    seen: set[str] = set()
    out = []
    for name, city in zip(names, cities, strict=True):
        candidate = name if name not in seen else f"{city} {name}"
        number = 2
        while candidate in seen:
            candidate, number = f"{city} {name} {number}", number + 1
        seen.add(candidate)
        out.append(candidate)
    return out


def _type_lean(ctype: np.ndarray, categories: list[str]) -> np.ndarray:
    """(n_customers, n_categories) weight of each category for the customer's type."""
    return np.array([[3.0 if c in prefs else 1.0 for c in categories]
                     for _, _, prefs in TYPE_PROFILE.values()])[ctype]


def _category_scope(rng: np.random.Generator, lean: np.ndarray) -> np.ndarray:
    """Which primary categories each customer trades: 2+ of them, leaning to its type."""
    n, n_cat = lean.shape
    size = np.minimum(n_cat, 2 + rng.binomial(max(n_cat - 2, 0), 0.4, n))
    keys = np.log(lean) + rng.gumbel(size=(n, n_cat))
    return _top_k_mask(keys, size)


def _top_k_mask(keys: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Boolean mask of each row's k largest keys (k may differ per row)."""
    rank = np.argsort(np.argsort(-keys, axis=1), axis=1)
    return rank < k[:, None]


def _sensitivity(
    rng: np.random.Generator, ctype: np.ndarray, sens_shift: np.ndarray, categories: list[str]
) -> np.ndarray:
    """Price-sensitivity multiplier per (customer, category): a customer level times a
    category-specific factor, so one customer can be price-driven in everyday lines and
    relaxed about premium ones (its buyers say so; a customer-wide discount cannot)."""
    n, n_cat = len(ctype), len(categories)
    level = np.exp(rng.normal(0, 0.3, n) + sens_shift[ctype])
    premium = np.array([PREMIUM_SENSITIVITY if c in PREMIUM_CATEGORIES else 1.0
                        for c in categories])
    return level[:, None] * np.exp(rng.normal(0, CATEGORY_SENSITIVITY_SD, (n, n_cat))) * premium


def _wanted(spec: WorldSpec, rng: np.random.Generator, in_scope: np.ndarray,
            announced: Announcements, core: np.ndarray, affinity: np.ndarray, skus: Skus
            ) -> tuple[np.ndarray, np.ndarray]:
    """Wanted brands (available in the current or announced scope) and their raised affinity."""
    scope = announced.scope_from(in_scope) < NEVER
    presence = skus.brand_category_presence()
    available = (scope.astype(int) @ presence.T.astype(int)) > 0
    wanted = wanted_brands(spec, available, core)
    raised = np.where(wanted, rng.uniform(*WANTED_AFFINITY, wanted.shape), affinity)
    return wanted, raised


def _brand_preferences(
    rng: np.random.Generator, in_scope: np.ndarray, presence: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Log-affinity per (customer, brand): 2-4 core brands it favours, a few it avoids."""
    n, n_brands = in_scope.shape[0], presence.shape[0]
    available = (in_scope.astype(int) @ presence.T.astype(int)) > 0
    want = np.minimum(2 + rng.binomial(2, 0.5, n), available.sum(axis=1))
    keys = np.where(available, rng.gumbel(size=(n, n_brands)), -np.inf)
    core = _top_k_mask(keys, want) & available
    affinity = rng.normal(-0.15, 0.2, (n, n_brands))
    affinity = np.where(rng.random((n, n_brands)) < 0.1, -0.9, affinity)
    affinity = np.where(core, rng.uniform(0.45, 1.0, (n, n_brands)), affinity)
    return affinity, core


def _raw_attributes(rng: np.random.Generator, c: Customers, n_attrs: int) -> pl.DataFrame:
    """attr_01..attr_NN: some are noisy mixtures of latent factors, the rest pure noise."""
    factors = np.column_stack([
        np.log(c.scale), c.mean_sensitivity(), c.loyalty, c.credit,
        np.log1p(c.catchment.population), np.log(c.catchment.income),
        c.catchment.share_young, c.in_scope.sum(axis=1), c.years_active,
    ])
    z = (factors - factors.mean(axis=0)) / np.maximum(factors.std(axis=0), 1e-9)
    n = len(c.ids)
    width = max(2, len(str(n_attrs)))
    columns = {}
    for j in range(n_attrs):
        loading = np.zeros(z.shape[1])
        if rng.random() < 0.6:
            picks = rng.choice(z.shape[1], size=rng.integers(1, 4), replace=False)
            loading[picks] = rng.normal(0, 1.0, len(picks))
        value = z @ loading + rng.normal(0, rng.uniform(0.5, 1.5), n)
        kind = j % 3
        if kind == 1:
            value = np.round(100.0 * np.exp(0.5 * value), 2)
        elif kind == 2:
            value = np.round(np.maximum(0.0, 10.0 + 3.0 * value))
        columns[f"attr_{j + 1:0{width}d}"] = value.astype(np.float64)
    return pl.DataFrame(columns, schema={k: pl.Float64 for k in columns})
