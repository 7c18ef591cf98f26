"""The synthetic retail world: observable raw tables plus the hidden truth behind them.

`build_world(spec)` is deterministic and cached per spec. Raw tables
(customers, stores, skus, documents, shipments and expenses by month) are what
learners may read; `true_*`, `document_facts`, `expected_units`,
`true_elasticity` and `plan_limits` are the simulator's truth, for evaluation only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from functools import cached_property, lru_cache

import numpy as np
import polars as pl

from deeprule.synth.accounts import LOCK_HORIZON_YEARS, NEVER, Locks, policy_locks
from deeprule.synth.customers import Customers, make_customers
from deeprule.synth.demand import OUT_OF_SCOPE, DemandModel, build_demand
from deeprule.synth.documents import subjects, write_documents
from deeprule.synth.expenses import (
    CONTRACT_REBATE,
    REBATE_RATE,
    account_rates,
    month_expenses,
)
from deeprule.synth.geography import Stores, make_cities, make_stores
from deeprule.synth.history import (
    Assortment,
    choose_assortment,
    month_ordinal,
    month_shipments,
    policy_discount,
    promotion_calendar,
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
        self._promotions = promotion_calendar(spec, len(self._skus.categories))
        self._assortment: Assortment = choose_assortment(
            spec, self._customers, self._skus, self._policy
        )
        self._locks: Locks = self._make_locks()
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
        """schema.SKUS columns, then net_weight_g, packaging, shelf_life_months, launch_month
        (a SKU launched after the history starts is on sale from that month on)."""
        return self._skus.frame.clone()

    def documents(self) -> pl.DataFrame:
        return self._documents[0].clone()

    def shipments(self, month: date) -> pl.DataFrame:
        """Shipment rows of one month; generated from (seed, month index) alone."""
        key = self._month_key(month)
        return month_shipments(self.spec, self._month_index[key], key, self._assortment,
                               self._promotions, self._demand, self._skus, self._customer_ids,
                               self._sku_ids)

    def expenses(self, month: date) -> pl.DataFrame:
        """Expense rows of one month (three per customer that shipped), from that month alone."""
        key = self._month_key(month)
        return month_expenses(self.spec, self._month_index[key], key, self.shipments(key),
                              self._expense_sku_info, self._expense_accounts, self._promotions)

    # ---- hidden truth (evaluation only) ------------------------------------------------

    def policy_locks(self) -> pl.DataFrame:
        """customer_id, sku_id, min_units: contractual minimum monthly volumes (truth)."""
        return pl.DataFrame({
            "customer_id": self._customer_ids.gather(self._locks.cust),
            "sku_id": self._sku_ids.gather(self._locks.sku),
            "min_units": self._locks.min_units,
        })

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
            "category_scope": _joined(c.in_scope, cats),
            "core_brands": _joined(c.core_brand, brands),
            "wanted_brands": _joined(c.wanted_brand, brands),
            "announced_category": [cats[j] if j >= 0 else None for j in c.announced.category],
            "announced_month": [self.spec.month_at(i) if j >= 0 else None
                                for i, j in zip(c.announced.start, c.announced.category,
                                                strict=True)],
            "discount_ceiling": c.ceiling,
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
        levels = c.category_sensitivity_level()
        for j, cat in enumerate(cats):
            cols[f"price_sensitivity_{slug(cat)}"] = c.sensitivity[:, j]
            cols[f"price_sensitivity_level_{slug(cat)}"] = levels[:, j].tolist()
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

    def expected_units_matrix(self, prices: np.ndarray, month: date) -> np.ndarray:
        """(n_customers, n_skus) noise-free expected units of every pair in `month` at
        `prices` (anything that broadcasts to that shape), in table order."""
        n_cust, n_sku = len(self._customer_ids), len(self._sku_ids)
        cust, sku = np.indices((n_cust, n_sku)).reshape(2, -1)
        price = np.broadcast_to(np.asarray(prices, dtype=np.float64), (n_cust, n_sku)).ravel()
        ordinal = np.full(len(cust), month_ordinal(month))
        return self._demand.expected(cust, sku, price, ordinal).reshape(n_cust, n_sku)

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
        starts = self._customers.announced.start
        horizon = int(starts[starts < NEVER].max(initial=0)) + 1
        people = subjects(self._customers, self._policy, self._monthly_volume(),
                          self._skus.categories, self._skus.brands,
                          [self.spec.month_at(i) for i in range(horizon)], self._lock_lines())
        return write_documents(self.spec, people, self._skus, self._city_names)

    def _month_key(self, month: date) -> date:
        key = date(month.year, month.month, month.day)
        if key not in self._month_index:
            first, last = self.spec.months[0], self.spec.months[-1]
            raise ValueError(
                f"month {month.isoformat()} is not in this world's months "
                f"({first.isoformat()} .. {last.isoformat()}, first day of each month)"
            )
        return key

    def _lock_lines(self) -> dict[int, list[tuple[str, str, int]]]:
        """Per customer index: (sku_id, 'secondary by brand', min units) of its locks."""
        frame = self._skus.frame
        out: dict[int, list[tuple[str, str, int]]] = {}
        for k, i, units in zip(self._locks.cust, self._locks.sku, self._locks.min_units,
                               strict=True):
            label = f"{frame['secondary_category'][int(i)].lower()} by {frame['brand'][int(i)]}"
            out.setdefault(int(k), []).append((frame["sku_id"][int(i)], label, int(units)))
        return out

    def _make_locks(self) -> Locks:
        """Locks on traded staples, at most a fraction of their worst-month demand at list."""
        a, skus = self._assortment, self._skus
        worst = (self._demand.base[a.cust, a.sku] * (1.0 - skus.season_amplitude[a.sku])
                 * np.exp(np.minimum(skus.trend_per_year[a.sku], 0.0) * LOCK_HORIZON_YEARS))
        staple = (a.start == 0) & self._customers.in_scope[a.cust, skus.category[a.sku]]
        return policy_locks(self.spec, a.cust[staple], a.sku[staple], worst[staple])

    @cached_property
    def _expense_sku_info(self) -> pl.DataFrame:
        frame = self._skus.frame
        return pl.DataFrame({"sku_id": frame["sku_id"], "cat": self._skus.category,
                             "kg": frame["net_weight_g"].to_numpy() / 1000.0})

    @cached_property
    def _expense_accounts(self) -> pl.DataFrame:
        fee, promo = account_rates(self.spec, len(self._customers.ids))
        tier = np.array([REBATE_RATE[b] for b in self._customers.scale_band()])
        contract = np.isin(np.arange(len(fee)), self._locks.cust)
        return pl.DataFrame({"customer_id": self._customer_ids, "line_fee": fee,
                             "promo_rate": promo,
                             "rebate_rate": tier + np.where(contract, CONTRACT_REBATE, 0.0)})

    def _monthly_volume(self) -> np.ndarray:
        """(n_customers, n_categories) typical monthly units at list price, for documents."""
        a, cat = self._assortment, self._skus.category
        n_cat = len(self._skus.categories)
        base = self._demand.base * np.where(self._customers.in_scope[:, cat], 1.0,
                                            OUT_OF_SCOPE)
        volume = np.zeros((len(self._customers.ids), n_cat))
        np.add.at(volume, (a.cust, cat[a.sku]), base[a.cust, a.sku])
        counts = np.maximum(np.bincount(cat, minlength=n_cat), 1)
        per_cat = np.stack([np.bincount(cat, weights=row, minlength=n_cat) for row in
                            base]) / counts
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


def _joined(mask: np.ndarray, names: list[str]) -> list[str]:
    """Per row, the sorted names where `mask` is true, '|'-joined ('' for none)."""
    return ["|".join(sorted(x for x, m in zip(names, row, strict=True) if m)) for row in mask]


def slug(name: str) -> str:
    """Column-safe lower-case name: 'Bath & Body' -> 'bath_body'."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


@lru_cache(maxsize=4)
def build_world(spec: WorldSpec) -> World:
    """The world of `spec` (deterministic; cached per spec)."""
    return World(spec)
