"""Store profiles q_j and the mapping of a customer's LLM prior into the same space.

The paper makes a store exclusive to a customer when sim(p_prior, q_j) > theta,
but a prior (price sensitivity, scale band, categories, brands) and a store
profile (population, income, age mix, floor area) live in different spaces.
The mapping below is the bridge; docs/features.md explains the choices.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

PROFILE_COLUMNS: tuple[str, ...] = (
    "population", "median_income", "share_age_under_30", "share_age_30_55",
    "share_age_over_55", "floor_area_sqm",
)
"""The store attributes q_j that are aggregated into g_k and compared with priors."""

LOG_COLUMNS = frozenset({"population", "median_income", "floor_area_sqm"})
"""Right-skewed profile columns, compared on a log scale."""

PRIOR_AXES: tuple[str, ...] = ("median_income", "floor_area_sqm")
"""Profile axes a prior can speak about: income (from price sensitivity) and store size
(from the scale band). The other axes get no preference from any prior."""

SCALE_BAND_TARGET: dict[str, float] = {"small": -1.0, "medium": 0.0, "large": 1.0}
NEUTRAL_PRICE_SENSITIVITY = 0.5


@dataclass(frozen=True)
class PriorTargets:
    """Each customer's preferred direction along PRIOR_AXES, in store-profile z units."""

    values: np.ndarray  # customers x len(PRIOR_AXES), entries in [-1, 1]
    neutral: np.ndarray  # bool per customer: no usable prior, all-zero target

    @property
    def n_neutral(self) -> int:
        return int(self.neutral.sum())


def standardized_profile(stores: pl.DataFrame) -> np.ndarray:
    """Stores x PROFILE_COLUMNS, log-scaled where skewed, z-scored over all stores."""
    cols = []
    for name in PROFILE_COLUMNS:
        values = stores[name].cast(pl.Float64).to_numpy()
        if name in LOG_COLUMNS:
            values = np.log1p(np.maximum(values, 0.0))
        std = values.std()
        cols.append((values - values.mean()) / (std if std > 0 else 1.0))
    return np.column_stack(cols)


def axis_projection(profile: np.ndarray) -> np.ndarray:
    """Per store, the PRIOR_AXES components of its profile divided by the profile's norm.

    A store's similarity to a target t is (t . z_j) / (|z_j| sqrt(A)): the cosine
    between the store's deviation from the average store and the prior's
    direction, shrunk when the prior is weak (|t| < sqrt(A)).
    """
    norm = np.linalg.norm(profile, axis=1)
    norm = np.where(norm > 0, norm, 1.0)
    idx = [PROFILE_COLUMNS.index(axis) for axis in PRIOR_AXES]
    return profile[:, idx] / norm[:, None] / np.sqrt(len(PRIOR_AXES))


def prior_targets(customer_ids: Sequence[str], priors: pl.DataFrame | None) -> PriorTargets:
    """Map each customer's prior to a target on PRIOR_AXES; missing priors map to zero.

    price_sensitivity p in [0, 1] -> income target 1 - 2p (sensitive buyers sell
    to low-income areas); scale_band small/medium/large -> floor-area target
    -1/0/+1. A missing prior, a null field or an unknown band contributes 0,
    the neutral prior, which never wins a store exclusively.
    """
    ids = pl.DataFrame({"customer_id": list(customer_ids)}, schema={"customer_id": pl.String})
    if priors is None or priors.height == 0:
        joined = ids.with_columns(
            price_sensitivity=pl.lit(None, pl.Float64), scale_band=pl.lit(None, pl.String)
        )
    else:
        wanted = priors.select(
            pl.col("customer_id").cast(pl.String),
            pl.col("price_sensitivity").cast(pl.Float64),
            pl.col("scale_band").cast(pl.String),
        ).unique("customer_id", keep="first")
        joined = ids.join(wanted, on="customer_id", how="left", maintain_order="left")
    sensitivity = joined["price_sensitivity"].fill_nan(None).clip(0.0, 1.0)
    income = 1.0 - 2.0 * sensitivity.fill_null(NEUTRAL_PRICE_SENSITIVITY).to_numpy()
    band = joined["scale_band"].str.to_lowercase().str.strip_chars()
    size = band.replace_strict(SCALE_BAND_TARGET, default=0.0, return_dtype=pl.Float64)
    values = np.column_stack([income, size.fill_null(0.0).to_numpy()])
    return PriorTargets(values=values, neutral=~np.any(values != 0.0, axis=1))
