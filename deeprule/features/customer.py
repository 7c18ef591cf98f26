"""The customer representation f_k = [g_k; stats_k; raw attributes], before standardization."""

from __future__ import annotations

import re

import polars as pl

EXCLUDED_NUMERIC = frozenset({"latitude", "longitude"})
"""Raw numeric columns left out: location enters through g_k, not as coordinates."""

CATEGORICAL_COLUMNS: tuple[str, ...] = ("region", "customer_type")
"""Raw text columns one-hot encoded (low cardinality, part of the data contract)."""

DEMOGRAPHIC_EXCLUDED = frozenset({"radius_km"})
"""alpha * s_k is business_scale times a constant: a duplicate column, left out."""


def column_slug(text: str) -> str:
    """Lower-case, non-alphanumerics collapsed to '_' (safe as a column name anywhere)."""
    return re.sub(r"[^0-9a-z]+", "_", text.lower()).strip("_") or "blank"


def one_hot(df: pl.DataFrame, column: str, key: str) -> pl.DataFrame:
    """key + one Float64 0/1 column per level, named <column>__<level slug>; null is a level
    (levels whose slugs collide get a numeric suffix)."""
    values = df[column].cast(pl.String).fill_null("(missing)")
    names: dict[str, str] = {}
    for level in sorted(set(values.to_list())):
        name = base = f"{column}__{column_slug(level)}"
        suffix = 2
        while name in names.values():
            name, suffix = f"{base}_{suffix}", suffix + 1
        names[level] = name
    return df.select(key).with_columns(
        (values == level).cast(pl.Float64).alias(name) for level, name in names.items()
    )


def attribute_features(customers: pl.DataFrame) -> pl.DataFrame:
    """customer_id + numeric raw attributes (Float64) + one-hot region and customer type."""
    numeric = [
        c for c, dtype in customers.schema.items()
        if dtype.is_numeric() and c not in EXCLUDED_NUMERIC
    ]
    out = customers.select("customer_id", *[pl.col(c).cast(pl.Float64) for c in numeric])
    for column in CATEGORICAL_COLUMNS:
        if column in customers.columns:
            out = out.join(one_hot(customers, column, "customer_id"), on="customer_id")
    return out


def demographic_features(demographics: pl.DataFrame) -> pl.DataFrame:
    """customer_id + g_k, weighted means and coverage counts as Float64 (storeless as 0/1)."""
    columns = [c for c in demographics.columns
               if c != "customer_id" and c not in DEMOGRAPHIC_EXCLUDED]
    return demographics.select("customer_id", *[pl.col(c).cast(pl.Float64) for c in columns])


def assemble(customers: pl.DataFrame, demographics: pl.DataFrame,
             temporal: pl.DataFrame) -> pl.DataFrame:
    """One row per customer in `customers`, every feature column Float64 (nulls possible)."""
    ids = customers.select("customer_id")
    return (ids.join(attribute_features(customers), on="customer_id", how="left")
            .join(demographic_features(demographics), on="customer_id", how="left")
            .join(temporal, on="customer_id", how="left"))
