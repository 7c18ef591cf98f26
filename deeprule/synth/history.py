"""Logged history: which SKUs each customer ships, at what discount, and how many units.

The logged policy is the traditional one the paper describes: experience
rules that do not adapt to the customer.
- Pricing: one discount per customer from its size tier (plus a blanket
  concession to customers who complain about price), the same in every
  category, plus a calendar of category promotions for everybody, capped at
  the customer's discount ceiling. Insensitive customers are over-discounted in
  premium categories and sensitive ones under-discounted in everyday lines.
  It is still confounded: bigger and more price-sensitive customers got deeper
  discounts, so regressing units on price across customers mixes the price
  effect with who got the price.
- Assortment inertia: each customer keeps the SKUs it traded when the history
  starts (chosen by habit: scope, brands, appeal and a taste for cheap
  low-margin lines, never by profit); a new launch is offered to few customers;
  an announced category or a wanted brand is never added.

Each month is drawn from its own random stream (world seed, month index), so
any month can be generated alone, in any order, with the same result.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from deeprule.schema import SHIPMENTS
from deeprule.synth.customers import Customers
from deeprule.synth.demand import DemandModel
from deeprule.synth.rng import stream
from deeprule.synth.skus import Skus
from deeprule.synth.spec import WorldSpec

TIER_DISCOUNT = {"small": 0.02, "medium": 0.05, "large": 0.09}
"""Customer-wide discount by size tier (scale band)."""
COMPLAINT_CONCESSION = 0.06
"""Extra blanket discount per unit of mean price sensitivity above 1 (reps give in)."""
PROMO_MONTHS_PER_YEAR = 2
PROMO_DEPTH = (0.06, 0.12)
MAX_DISCOUNT = 0.6
DISCOUNT_STEP = 0.005
DISCOUNT_JITTER_SD = 0.01
CUSTOMER_SHOCK_SD = 0.12
ROW_NOISE_SD = 0.2
NEW_SKU_UPTAKE = 0.1
"""Chance that a customer trading the category is offered a new launch."""
LOW_MARGIN_HABIT = (0.0, 1.5)
"""Range of a customer's taste for cheap, low-margin lines in its starting assortment."""


@dataclass(frozen=True)
class Assortment:
    """The (customer, SKU) pairs a customer trades, sorted by customer then SKU."""

    cust: np.ndarray
    sku: np.ndarray
    base_discount: np.ndarray
    ceiling: np.ndarray
    ship_probability: np.ndarray
    start: np.ndarray
    """Month index from which the pair ships (0 for the starting assortment)."""


def policy_discount(spec: WorldSpec, customers: Customers) -> np.ndarray:
    """(n_customers, n_categories) usual discount: one per customer, the same in every category.

    Size tier plus a concession to customers who complain about price (reps see
    the customer's mean sensitivity, not its per-category one).
    """
    rng = stream(spec.seed, "policy")
    tier = np.array([TIER_DISCOUNT[b] for b in customers.scale_band()])
    raw = (tier + COMPLAINT_CONCESSION * (customers.mean_sensitivity() - 1.0)
           + rng.normal(0, 0.01, len(tier)))
    usual = np.clip(raw, 0.0, customers.ceiling)
    return np.repeat(usual[:, None], customers.sensitivity.shape[1], axis=1)


def promotion_calendar(spec: WorldSpec, n_categories: int) -> np.ndarray:
    """(12, n_categories) promotion depth per month of the year, the same every year."""
    rng = stream(spec.seed, "promotions")
    calendar = np.zeros((12, n_categories))
    for j in range(n_categories):
        months = rng.choice(12, size=PROMO_MONTHS_PER_YEAR, replace=False)
        calendar[months, j] = rng.uniform(*PROMO_DEPTH)
    return calendar


def choose_assortment(spec: WorldSpec, customers: Customers, skus: Skus,
                      base_discount: np.ndarray) -> Assortment:
    """The starting assortment by habit, then the few new launches each customer is offered."""
    rng = stream(spec.seed, "assortment")
    n_cust, n_sku = len(customers.ids), len(skus.list_price)
    existing = skus.launch < 0
    size = np.clip(np.round(spec.skus_per_customer * np.exp(rng.normal(0, 0.2, n_cust))),
                   1, existing.sum()).astype(np.int64)
    low_margin = skus.cost_share()
    low_margin = (low_margin - low_margin.mean()) / max(float(low_margin.std()), 1e-9)
    habit = rng.uniform(*LOW_MARGIN_HABIT, n_cust)
    wanted = customers.wanted_brand[:, skus.brand]
    announced = customers.announced.category[:, None] == skus.category[None, :]
    keys = (2.5 * customers.in_scope[:, skus.category]
            + customers.brand_affinity[:, skus.brand] + skus.appeal[None, :]
            + habit[:, None] * low_margin[None, :] + rng.gumbel(size=(n_cust, n_sku)))
    keys = np.where(existing[None, :] & ~wanted & ~announced, keys, -np.inf)
    rank = np.argsort(np.argsort(-keys, axis=1), axis=1)
    offered = (~existing[None, :] & ~wanted & customers.in_scope[:, skus.category]
               & (rng.random((n_cust, n_sku)) < NEW_SKU_UPTAKE))
    lag = rng.integers(0, 3, (n_cust, n_sku))
    cust, sku = np.nonzero(((rank < size[:, None]) & np.isfinite(keys)) | offered)
    start = np.where(existing[sku], 0, skus.launch[sku] + lag[cust, sku])
    return Assortment(
        cust=cust.astype(np.int64), sku=sku.astype(np.int64),
        base_discount=base_discount[cust, skus.category[sku]],
        ceiling=customers.ceiling[cust],
        ship_probability=0.93 + 0.07 * customers.loyalty[cust],
        start=start.astype(np.int64),
    )


def month_shipments(
    spec: WorldSpec, month_index: int, month: date, assortment: Assortment,
    promotions: np.ndarray, demand: DemandModel, skus: Skus, customer_ids: pl.Series,
    sku_ids: pl.Series,
) -> pl.DataFrame:
    """All shipment rows of one month, drawn from that month's own random stream."""
    rng = stream(spec.seed, "shipments", month_index)
    n_cust = len(customer_ids)
    promo = promotions[month.month - 1]
    shock = np.exp(rng.normal(-CUSTOMER_SHOCK_SD**2 / 2, CUSTOMER_SHOCK_SD, n_cust))
    n_rows = len(assortment.cust)
    ships = (rng.random(n_rows) < assortment.ship_probability) & (assortment.start <= month_index)
    noise = np.exp(rng.normal(-ROW_NOISE_SD**2 / 2, ROW_NOISE_SD, n_rows))[ships]
    jitter = rng.normal(0, DISCOUNT_JITTER_SD, n_rows)[ships]
    cust, sku = assortment.cust[ships], assortment.sku[ships]
    wanted = assortment.base_discount[ships] + promo[skus.category[sku]] + jitter
    discount = _snap_discount(np.minimum(wanted, assortment.ceiling[ships]))
    list_price = skus.list_price[sku]
    unit_price = list_price * (1.0 - discount)
    ordinal = np.full(len(cust), month_ordinal(month))
    units = rng.poisson(demand.expected(cust, sku, unit_price, ordinal) * shock[cust] * noise)
    frame = pl.DataFrame(
        {
            "customer_id": customer_ids.gather(cust),
            "sku_id": sku_ids.gather(sku),
            "list_price": list_price,
            "discount": discount,
            "unit_price": unit_price,
            "units": units.astype(np.int64),
            "revenue": units * unit_price,
        }
    )
    return frame.with_columns(pl.lit(month, dtype=pl.Date).alias("month")).select(
        [pl.col(c.name).cast(c.dtype) for c in SHIPMENTS.columns]
    )


def _snap_discount(raw: np.ndarray) -> np.ndarray:
    """Discounts are quoted in half-percent steps within [0, MAX_DISCOUNT] (never -0.0)."""
    stepped = np.round(raw / DISCOUNT_STEP) * DISCOUNT_STEP
    return np.round(np.clip(stepped, 0.0, MAX_DISCOUNT), 3) + 0.0


def month_ordinal(month: date) -> int:
    """Months since 1970-01 (the unit demand's time terms use)."""
    return (month.year - 1970) * 12 + month.month - 1
