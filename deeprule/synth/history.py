"""Logged history: which SKUs each customer ships, at what discount, and how many units.

The logged pricing policy is confounded on purpose: bigger and more
price-sensitive customers were given deeper discounts, and whole categories
went on promotion in some months. Regressing units on price across customers
therefore mixes the price effect with who got the price.

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

PROMO_PROBABILITY = 0.18
PROMO_DEPTH = (0.05, 0.12)
MAX_DISCOUNT = 0.6
DISCOUNT_STEP = 0.005
DISCOUNT_JITTER_SD = 0.012
CUSTOMER_SHOCK_SD = 0.12
ROW_NOISE_SD = 0.2


@dataclass(frozen=True)
class Assortment:
    """The (customer, SKU) pairs a customer trades, sorted by customer then SKU."""

    cust: np.ndarray
    sku: np.ndarray
    base_discount: np.ndarray
    ship_probability: np.ndarray


def policy_discount(spec: WorldSpec, customers: Customers) -> np.ndarray:
    """(n_customers, n_categories) usual discount: deeper for big and price-sensitive buyers."""
    rng = stream(spec.seed, "policy")
    log_scale = np.log(customers.scale)
    z_scale = (log_scale - log_scale.mean()) / max(float(log_scale.std()), 1e-9)
    raw = (0.04 + 0.03 * z_scale[:, None] + 0.08 * (customers.sensitivity - 1.0)
           + 0.02 * (customers.loyalty[:, None] - 0.6)
           + rng.normal(0, 0.015, customers.sensitivity.shape))
    return np.clip(raw, 0.0, 0.35)


def choose_assortment(spec: WorldSpec, customers: Customers, skus: Skus,
                      base_discount: np.ndarray) -> Assortment:
    """About spec.skus_per_customer SKUs per customer, skewed to its scope, brands and style."""
    rng = stream(spec.seed, "assortment")
    n_cust, n_sku = len(customers.ids), len(skus.list_price)
    size = np.clip(np.round(spec.skus_per_customer * np.exp(rng.normal(0, 0.2, n_cust))),
                   1, n_sku).astype(np.int64)
    keys = (2.5 * customers.in_scope[:, skus.category]
            + customers.brand_affinity[:, skus.brand] + skus.appeal[None, :]
            + rng.gumbel(size=(n_cust, n_sku)))
    rank = np.argsort(np.argsort(-keys, axis=1), axis=1)
    cust, sku = np.nonzero(rank < size[:, None])
    return Assortment(
        cust=cust.astype(np.int64), sku=sku.astype(np.int64),
        base_discount=base_discount[cust, skus.category[sku]],
        ship_probability=0.93 + 0.07 * customers.loyalty[cust],
    )


def month_shipments(
    spec: WorldSpec, month_index: int, month: date, assortment: Assortment,
    demand: DemandModel, skus: Skus, customer_ids: pl.Series, sku_ids: pl.Series,
) -> pl.DataFrame:
    """All shipment rows of one month, drawn from that month's own random stream."""
    rng = stream(spec.seed, "shipments", month_index)
    n_cat, n_cust = len(skus.categories), len(customer_ids)
    promo = np.where(rng.random(n_cat) < PROMO_PROBABILITY, rng.uniform(*PROMO_DEPTH, n_cat), 0.0)
    shock = np.exp(rng.normal(-CUSTOMER_SHOCK_SD**2 / 2, CUSTOMER_SHOCK_SD, n_cust))
    n_rows = len(assortment.cust)
    ships = rng.random(n_rows) < assortment.ship_probability
    noise = np.exp(rng.normal(-ROW_NOISE_SD**2 / 2, ROW_NOISE_SD, n_rows))[ships]
    jitter = rng.normal(0, DISCOUNT_JITTER_SD, n_rows)[ships]
    cust, sku = assortment.cust[ships], assortment.sku[ships]
    discount = _snap_discount(assortment.base_discount[ships] + promo[skus.category[sku]] + jitter)
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
