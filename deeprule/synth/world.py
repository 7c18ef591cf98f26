"""The synthetic retail world: observable raw tables plus the hidden truth behind them.

`build_world(spec)` is deterministic and cached per spec. Raw tables
(customers, stores, skus, documents, shipments by month) are what learners
may read; `true_*`, `document_facts`, `expected_units` and `true_elasticity`
are the simulator's truth, for evaluation only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from functools import cached_property, lru_cache

import numpy as np
import polars as pl

from deeprule.synth.customers import Customers, make_customers
from deeprule.synth.demand import DemandModel, build_demand
from deeprule.synth.documents import subjects, write_documents
from deeprule.synth.geography import Stores, make_cities, make_stores
from deeprule.synth.history import (
    Assortment,
    choose_assortment,
    month_ordinal,
    month_shipments,
    policy_discount,
)
from deeprule.synth.skus import Skus, make_skus
from deeprule.synth.spec import WorldSpec

DateLike = date | np.datetime64 | Sequence[date] | np.ndarray | pl.Series


class World:
    """One generated world. Build it with `build_world(spec)`."""

    def __init__(self, spec: WorldSpec) -> None:
        self.spec = spec
        cities = make_cities(spec)
        self._city_names: list[str] = cities.name.tolist()
        self._stores: Stores = make_stores(spec, cities)
        self._skus: Skus = make_skus(spec)
        self._customers: Customers = make_customers(spec, cities, self._stores, self._skus)
        self._demand: DemandModel = build_demand(
            self._customers, self._skus, month_ordinal(spec.start)
        )
        self._policy = policy_discount(spec, self._customers)
        self._assortment: Assortment = choose_assortment(
            spec, self._customers, self._skus, self._policy
        )
        self._customer_ids = pl.Series("customer_id", self._customers.ids, dtype=pl.String)
        self._sku_ids = self._skus.frame["sku_id"]
        self._month_index = {m: i for i, m in enumerate(spec.months)}

    # ---- raw tables (what learners may read) -------------------------------------------

    def customers(self) -> pl.DataFrame:
        """schema.CUSTOMERS columns, then attr_01..attr_NN."""
        return self._customers.frame.clone()

    def stores(self) -> pl.DataFrame:
        return self._stores.frame.clone()

    def skus(self) -> pl.DataFrame:
        """schema.SKUS columns, then net_weight_g, packaging, shelf_life_months, launch_year."""
        return self._skus.frame.clone()

    def documents(self) -> pl.DataFrame:
        return self._documents[0].clone()

    def shipments(self, month: date) -> pl.DataFrame:
        """Shipment rows of one month; generated from (seed, month index) alone."""
        key = date(month.year, month.month, month.day)
        if key not in self._month_index:
            first, last = self.spec.months[0], self.spec.months[-1]
            raise ValueError(
                f"month {month.isoformat()} is not in this world's months "
                f"({first.isoformat()} .. {last.isoformat()}, first day of each month)"
            )
        return month_shipments(self.spec, self._month_index[key], key, self._assortment,
                               self._demand, self._skus, self._customer_ids, self._sku_ids)

    # ---- hidden truth (evaluation only) ------------------------------------------------

    def document_facts(self) -> pl.DataFrame:
        """doc_id, customer_id, doc_type, field, value: what each document states."""
        return self._documents[1].clone()

    def true_customer_traits(self) -> pl.DataFrame:
        """One row per customer: latent traits, catchment truth and logged-policy discount."""
        c, cats = self._customers, self._skus.categories
        brands = self._skus.brands
        reach = c.catchment
        cols: dict[str, object] = {
            "customer_id": c.ids,
            "price_sensitivity_mean": c.mean_sensitivity(),
            "price_sensitivity_level": c.sensitivity_level().tolist(),
            "scale_band": c.scale_band().tolist(),
            "category_scope": ["|".join(sorted(x for x, m in zip(cats, row, strict=True) if m))
                               for row in c.in_scope],
            "core_brands": ["|".join(sorted(b for b, m in zip(brands, row, strict=True) if m))
                            for row in c.core_brand],
            "loyalty": c.loyalty,
            "credit_quality": c.credit,
            "catchment_radius_km": reach.radius_km,
            "catchment_stores": reach.n_stores,
            "catchment_population": reach.population,
            "catchment_income": reach.income,
            "catchment_share_under_30": reach.share_young,
            "catchment_share_over_55": reach.share_old,
            "policy_discount_mean": (self._policy * c.in_scope).sum(axis=1)
            / c.in_scope.sum(axis=1),
        }
        for j, cat in enumerate(cats):
            cols[f"price_sensitivity_{slug(cat)}"] = c.sensitivity[:, j]
            cols[f"in_scope_{slug(cat)}"] = c.in_scope[:, j]
        for j, brand in enumerate(brands):
            cols[f"brand_affinity_{slug(brand)}"] = c.brand_affinity[:, j]
        return pl.DataFrame(cols)

    def true_sku_params(self) -> pl.DataFrame:
        """Per-SKU truth: premium regime, kinked elasticity, seasonality, trend, appeal."""
        return self._skus.truth_frame()

    def expected_units(self, customer_ids: Sequence[str] | np.ndarray | pl.Series,
                       sku_ids: Sequence[str] | np.ndarray | pl.Series,
                       unit_price: Sequence[float] | np.ndarray | float,
                       months: DateLike) -> np.ndarray:
        """Noise-free expected units for each (customer, sku, price, month) row, any price > 0."""
        cust, sku, price, ordinal = self._rows(customer_ids, sku_ids, unit_price, months)
        return self._demand.expected(cust, sku, price, ordinal)

    def true_elasticity(self, customer_ids: Sequence[str] | np.ndarray | pl.Series,
                        sku_ids: Sequence[str] | np.ndarray | pl.Series,
                        unit_price: Sequence[float] | np.ndarray | float,
                        months: DateLike) -> np.ndarray:
        """d log q / d log p at each row's price (negative; does not depend on the month)."""
        cust, sku, price, _ = self._rows(customer_ids, sku_ids, unit_price, months)
        return self._demand.elasticity(cust, sku, price)

    # ---- helpers -----------------------------------------------------------------------

    @cached_property
    def _documents(self) -> tuple[pl.DataFrame, pl.DataFrame]:
        people = subjects(self._customers, self._policy, self._monthly_volume(),
                          self._skus.categories, self._skus.brands)
        return write_documents(self.spec, people, self._skus, self._city_names)

    def _monthly_volume(self) -> np.ndarray:
        """(n_customers, n_categories) typical monthly units at list price, for documents."""
        a, cat = self._assortment, self._skus.category
        n_cat = len(self._skus.categories)
        volume = np.zeros((len(self._customers.ids), n_cat))
        np.add.at(volume, (a.cust, cat[a.sku]), self._demand.base[a.cust, a.sku])
        counts = np.maximum(np.bincount(cat, minlength=n_cat), 1)
        per_cat = np.stack([np.bincount(cat, weights=row, minlength=n_cat) for row in
                            self._demand.base]) / counts
        return np.where(volume > 0, volume, per_cat)

    def _rows(self, customer_ids, sku_ids, unit_price, months
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        cust = _lookup(customer_ids, self._customer_ids, "customer_id")
        sku = _lookup(sku_ids, self._sku_ids, "sku_id")
        if cust.shape != sku.shape:
            raise ValueError(
                f"customer_ids ({len(cust)}) and sku_ids ({len(sku)}) differ in length"
            )
        price = np.broadcast_to(np.asarray(unit_price, dtype=np.float64), cust.shape)
        if not np.all(np.isfinite(price) & (price > 0)):
            raise ValueError("unit_price must be finite and > 0 for every row")
        ordinal = np.asarray(months, dtype="datetime64[M]").astype(np.int64)
        return cust, sku, price, np.broadcast_to(ordinal, cust.shape)


def _lookup(ids: Sequence[str] | np.ndarray | pl.Series, known: pl.Series,
            what: str) -> np.ndarray:
    """Row indices of `ids` in `known`, vectorized; unknown ids raise KeyError naming them."""
    if not isinstance(ids, pl.Series):
        ids = pl.Series(what, np.atleast_1d(np.asarray(ids)).astype(str))
    index = ids.cast(pl.String).replace_strict(
        known, pl.int_range(len(known), eager=True), default=None, return_dtype=pl.Int64
    )
    if index.null_count():
        unknown = ids.filter(index.is_null()).unique().head(5).to_list()
        raise KeyError(f"unknown {what}(s): {unknown}")
    return index.to_numpy()


def slug(name: str) -> str:
    """Column-safe lower-case name: 'Bath & Body' -> 'bath_body'."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


@lru_cache(maxsize=4)
def build_world(spec: WorldSpec) -> World:
    """The world of `spec` (deterministic; cached per spec)."""
    return World(spec)
