"""Affiliation and aggregated demographics g_k as tables (the frame layer over deeprule.geo)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from deeprule.features.sqlfiles import run_on_frames
from deeprule.geo.affiliation import (
    Affiliation,
    AffiliationInputs,
    AffiliationParams,
    SpatialSearch,
    affiliate,
)
from deeprule.geo.profile import axis_projection, prior_targets, standardized_profile

AFFILIATION_SCHEMA: dict[str, type[pl.DataType]] = {
    "store_id": pl.String,
    "customer_id": pl.String,
    "distance_km": pl.Float64,
    "similarity": pl.Float64,
    "weight": pl.Float64,
    "exclusive": pl.Boolean,
    "covered": pl.Boolean,
}


@dataclass(frozen=True)
class AffiliationSummary:
    """What the affiliation asset reports: alpha and who was left out."""

    alpha: float
    coverage_target: float
    theta: float
    n_pairs: int
    n_stores: int
    uncovered_stores: int
    exclusive_stores: int
    customers_without_stores: int
    neutral_prior_customers: int

    def as_metadata(self) -> dict[str, float | int]:
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in vars(self).items()}


def affiliation_inputs(
    stores: pl.DataFrame, customers: pl.DataFrame, priors: pl.DataFrame | None
) -> tuple[AffiliationInputs, int]:
    """Arrays for deeprule.geo.affiliate, plus how many customers got the neutral prior."""
    targets = prior_targets(customers["customer_id"].to_list(), priors)
    inputs = AffiliationInputs(
        store_lat=stores["latitude"].cast(pl.Float64).to_numpy(),
        store_lon=stores["longitude"].cast(pl.Float64).to_numpy(),
        customer_lat=customers["latitude"].cast(pl.Float64).to_numpy(),
        customer_lon=customers["longitude"].cast(pl.Float64).to_numpy(),
        scale=customers["business_scale"].cast(pl.Float64).fill_null(0.0).to_numpy(),
        store_axes=axis_projection(standardized_profile(stores)),
        targets=targets.values,
    )
    return inputs, targets.n_neutral


def affiliation_frame(
    result: Affiliation, stores: pl.DataFrame, customers: pl.DataFrame
) -> pl.DataFrame:
    """One row per (store, covering customer); one row with customer_id null per uncovered store."""
    store_ids = stores["store_id"].to_numpy()
    customer_ids = customers["customer_id"].to_numpy()
    pairs = result.pairs
    covered = pl.DataFrame(
        {
            "store_id": store_ids[pairs.store],
            "customer_id": customer_ids[pairs.customer],
            "distance_km": pairs.distance_km,
            "similarity": result.similarity,
            "weight": result.weight,
            "exclusive": result.exclusive,
            "covered": np.ones(pairs.store.size, dtype=bool),
        },
        schema=AFFILIATION_SCHEMA,
    )
    alone = store_ids[~result.covered_stores()]
    uncovered = pl.DataFrame(
        {"store_id": alone, "weight": np.zeros(alone.size),
         "exclusive": np.zeros(alone.size, dtype=bool), "covered": np.zeros(alone.size, bool)},
    ).with_columns(
        customer_id=pl.lit(None, pl.String), distance_km=pl.lit(None, pl.Float64),
        similarity=pl.lit(None, pl.Float64),
    ).select(AFFILIATION_SCHEMA.keys()).cast(AFFILIATION_SCHEMA)
    return pl.concat([covered, uncovered])


def build_affiliation(
    stores: pl.DataFrame, customers: pl.DataFrame, priors: pl.DataFrame | None,
    params: AffiliationParams, search: SpatialSearch | None = None,
) -> tuple[pl.DataFrame, AffiliationSummary]:
    """The store_affiliation table and its summary."""
    inputs, neutral = affiliation_inputs(stores, customers, priors)
    result = affiliate(inputs, params, search)
    frame = affiliation_frame(result, stores, customers)
    weight_per_customer = np.bincount(result.pairs.customer, weights=result.weight,
                                      minlength=inputs.n_customers)
    summary = AffiliationSummary(
        alpha=result.alpha, coverage_target=params.coverage_target, theta=params.theta,
        n_pairs=int(result.pairs.store.size), n_stores=inputs.n_stores,
        uncovered_stores=int((~result.covered_stores()).sum()),
        exclusive_stores=int(result.exclusive.sum()),
        customers_without_stores=int((weight_per_customer <= 0).sum()),
        neutral_prior_customers=neutral,
    )
    return frame, summary


def customer_demographics(
    affiliation: pl.DataFrame, stores: pl.DataFrame, customers: pl.DataFrame, alpha: float
) -> pl.DataFrame:
    """g_k, weighted means and coverage counts per customer (sql/features_customer_demographics)."""
    return run_on_frames(
        "features_customer_demographics",
        {"store_affiliation": affiliation, "stores": stores, "customers": customers},
        {"alpha": alpha},
    )
