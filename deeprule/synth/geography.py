"""Cities, stores and the store catchment around each customer.

Customers and stores cluster around the same cities, so a customer's
neighbourhood of stores says something about its market; a share of stores is
scattered over the whole map, far from any customer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from sklearn.neighbors import BallTree

from deeprule.schema import STORES
from deeprule.synth.rng import stream
from deeprule.synth.spec import WorldSpec
from deeprule.synth.vocab import CITY_NAMES, REGIONS

EARTH_RADIUS_KM = 6371.0088
KM_PER_DEG = 111.32
MAP_LAT = (22.0, 42.0)
MAP_LON = (102.0, 122.0)
SCATTERED_STORE_SHARE = 0.12


@dataclass(frozen=True)
class Cities:
    """City centres and the traits their stores and customers inherit."""

    name: np.ndarray
    region: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    weight: np.ndarray
    spread_km: np.ndarray
    income_level: np.ndarray
    youth: np.ndarray

    def __len__(self) -> int:
        return len(self.name)


@dataclass(frozen=True)
class Stores:
    """Store table plus the arrays the catchment needs."""

    frame: pl.DataFrame
    lat: np.ndarray
    lon: np.ndarray
    population: np.ndarray
    income: np.ndarray
    share_young: np.ndarray
    share_old: np.ndarray


@dataclass(frozen=True)
class Catchment:
    """Demographics of the stores within each customer's operating radius (hidden truth)."""

    radius_km: np.ndarray
    n_stores: np.ndarray
    population: np.ndarray
    income: np.ndarray
    share_young: np.ndarray
    share_old: np.ndarray


def city_names(n: int) -> list[str]:
    """The first n city names, numbered once the list runs out."""
    base = len(CITY_NAMES)
    return [CITY_NAMES[i % base] + ("" if i < base else f" {i // base + 1}") for i in range(n)]


def make_cities(spec: WorldSpec) -> Cities:
    """City centres on a fixed map, with Zipf-like sizes and their own income and age mix."""
    rng = stream(spec.seed, "cities")
    n = spec.n_cities
    lat = rng.uniform(*MAP_LAT, n)
    lon = rng.uniform(*MAP_LON, n)
    weight = 1.0 / np.arange(1, n + 1) ** 0.8
    weight = rng.permutation(weight / weight.sum())
    spread = 12.0 + 30.0 * np.sqrt(weight / weight.max())
    income = 52_000.0 * np.exp(rng.normal(0.0, 0.3, n) + 0.15 * np.log(weight * n))
    youth = rng.uniform(0.7, 1.4, n)
    return Cities(
        name=np.array(city_names(n), dtype=object), region=_regions(lat, lon),
        lat=lat, lon=lon, weight=weight, spread_km=spread, income_level=income, youth=youth,
    )


def _regions(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Central near the map centre, otherwise North/South/East/West by the dominant offset."""
    dlat = lat - np.mean(MAP_LAT)
    dlon = lon - np.mean(MAP_LON)
    north_south = np.where(dlat >= 0, REGIONS.index("North"), REGIONS.index("South"))
    east_west = np.where(dlon >= 0, REGIONS.index("East"), REGIONS.index("West"))
    idx = np.where(np.abs(dlat) >= np.abs(dlon), north_south, east_west)
    idx = np.where(np.maximum(np.abs(dlat), np.abs(dlon)) < 3.5, REGIONS.index("Central"), idx)
    return np.array(REGIONS, dtype=object)[idx]


def scatter_around(
    rng: np.random.Generator, cities: Cities, n: int, spread_factor: float
) -> tuple[np.ndarray, np.ndarray]:
    """n points drawn around cities chosen by city size, Gaussian in kilometres."""
    city = rng.choice(len(cities), size=n, p=cities.weight)
    sd = cities.spread_km[city] * spread_factor
    lat = cities.lat[city] + rng.normal(0.0, 1.0, n) * sd / KM_PER_DEG
    lon = cities.lon[city] + rng.normal(0.0, 1.0, n) * sd / (
        KM_PER_DEG * np.cos(np.radians(cities.lat[city]))
    )
    return lat, lon


def nearest_city(lat: np.ndarray, lon: np.ndarray, cities: Cities) -> np.ndarray:
    """Index of the nearest city centre for every point (great-circle distance)."""
    tree = BallTree(np.radians(np.column_stack([cities.lat, cities.lon])), metric="haversine")
    _, idx = tree.query(np.radians(np.column_stack([lat, lon])), k=1)
    return idx[:, 0]


def make_stores(spec: WorldSpec, cities: Cities) -> Stores:
    """Stores around the cities plus a scattered share, with demographics of their catchment."""
    rng = stream(spec.seed, "stores")
    n = spec.n_stores
    n_far = int(round(n * SCATTERED_STORE_SHARE))
    lat_c, lon_c = scatter_around(rng, cities, n - n_far, spread_factor=1.3)
    lat = np.concatenate([lat_c, rng.uniform(*MAP_LAT, n_far)])
    lon = np.concatenate([lon_c, rng.uniform(*MAP_LON, n_far)])
    city = nearest_city(lat, lon, cities)
    population = np.round(6_000.0 * np.exp(rng.normal(0.0, 0.6, n)) * (
        cities.weight[city] * len(cities)) ** 0.25)
    income = np.round(cities.income_level[city] * np.exp(rng.normal(0.0, 0.25, n)), -1)
    young, middle, old = _age_mix(rng, cities.youth[city])
    floor = np.round(np.maximum(20.0, 220.0 * np.exp(rng.normal(0.0, 0.7, n))), 1)
    width = len(str(n))
    frame = pl.DataFrame(
        {
            "store_id": [f"S{i:0{width}d}" for i in range(1, n + 1)],
            "latitude": np.round(lat, 6),
            "longitude": np.round(lon, 6),
            "city": cities.name[city],
            "population": population,
            "median_income": income,
            "share_age_under_30": young,
            "share_age_30_55": middle,
            "share_age_over_55": old,
            "floor_area_sqm": floor,
        },
        schema=STORES.polars_schema(),
    )
    return Stores(frame=frame, lat=lat, lon=lon, population=population, income=income,
                  share_young=young, share_old=old)


def _age_mix(
    rng: np.random.Generator, youth: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Three age shares per store (Dirichlet via gammas), summing to one after rounding."""
    alpha = np.column_stack([6.0 * youth, np.full_like(youth, 8.0), 6.0 / youth])
    draws = rng.gamma(alpha)
    shares = np.round(draws / draws.sum(axis=1, keepdims=True), 4)
    old = np.clip(np.round(1.0 - shares[:, 0] - shares[:, 1], 4), 0.0, 1.0)
    return shares[:, 0], shares[:, 1], old


def operating_radius_km(scale: np.ndarray) -> np.ndarray:
    """A customer's reach grows with its business scale (the paper's r_k = alpha * s_k)."""
    return np.clip(4.0 * np.sqrt(scale), 8.0, 50.0)


def catchment(lat: np.ndarray, lon: np.ndarray, radius_km: np.ndarray,
              stores: Stores) -> Catchment:
    """Population, income and age mix of the stores within each customer's radius.

    One BallTree radius query for all customers, then bincount aggregation: no
    Python loop over customer-store pairs.
    """
    tree = BallTree(np.radians(np.column_stack([stores.lat, stores.lon])), metric="haversine")
    hits = tree.query_radius(np.radians(np.column_stack([lat, lon])),
                             r=radius_km / EARTH_RADIUS_KM)
    counts = np.fromiter((len(h) for h in hits), dtype=np.int64, count=len(hits))
    flat = np.concatenate(hits) if counts.sum() else np.zeros(0, dtype=np.int64)
    owner = np.repeat(np.arange(len(lat)), counts)
    pop = stores.population[flat]
    n = len(lat)
    pop_sum = np.bincount(owner, weights=pop, minlength=n)
    safe = np.where(pop_sum > 0, pop_sum, 1.0)

    def weighted_mean(values: np.ndarray, fallback: float) -> np.ndarray:
        mean = np.bincount(owner, weights=pop * values[flat], minlength=n) / safe
        return np.where(pop_sum > 0, mean, fallback)

    return Catchment(
        radius_km=radius_km,
        n_stores=counts,
        population=pop_sum,
        income=weighted_mean(stores.income, float(np.median(stores.income))),
        share_young=weighted_mean(stores.share_young, float(np.median(stores.share_young))),
        share_old=weighted_mean(stores.share_old, float(np.median(stores.share_old))),
    )
