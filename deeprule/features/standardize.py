"""Z-score standardization with stored parameters, and the imputation that goes with it.

A missing value is replaced by the feature's training mean, so it standardizes
to exactly 0. The parameters are kept between runs and refit only when the
feature set changes or the data grew by more than `refit_growth` since the fit
(the paper's N_update rule), so a model trained on them stays valid.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

STATS_SCHEMA: dict[str, type[pl.DataType]] = {
    "feature": pl.String,
    "mean": pl.Float64,
    "std": pl.Float64,
    "source_table": pl.String,
    "n_observations": pl.Int64,
}


@dataclass(frozen=True)
class Standardized:
    """A standardized table and what was done to it."""

    frame: pl.DataFrame
    imputed: dict[str, int]  # feature -> values imputed with its training mean


def feature_columns(df: pl.DataFrame, keys: tuple[str, ...]) -> list[str]:
    return [c for c in df.columns if c not in keys]


def fit(df: pl.DataFrame, keys: tuple[str, ...], source_table: str,
        n_observations: int) -> pl.DataFrame:
    """Mean and population std of every feature column (nulls and NaN ignored).

    A constant column gets std 1 (it standardizes to 0); an all-missing one mean 0.
    """
    columns = feature_columns(df, keys)
    clean = df.select(pl.col(columns).cast(pl.Float64).fill_nan(None))
    means = clean.mean().row(0) if columns else ()
    stds = clean.std(ddof=0).row(0) if columns else ()
    return pl.DataFrame(
        {
            "feature": columns,
            "mean": [m if m is not None else 0.0 for m in means],
            "std": [s if s is not None and s > 0 else 1.0 for s in stds],
            "source_table": [source_table] * len(columns),
            "n_observations": [n_observations] * len(columns),
        },
        schema=STATS_SCHEMA,
    )


def apply(df: pl.DataFrame, keys: tuple[str, ...], stats: pl.DataFrame) -> Standardized:
    """(x - mean) / std per feature, missing values imputed with the mean first."""
    params = {row["feature"]: (row["mean"], row["std"]) for row in stats.iter_rows(named=True)}
    columns = feature_columns(df, keys)
    unknown = sorted(set(columns) - set(params))
    if unknown:
        raise ValueError(f"no standardization parameters for features {unknown}")
    clean = df.with_columns(pl.col(columns).cast(pl.Float64).fill_nan(None))
    nulls = clean.select(pl.col(columns).null_count()).row(0, named=True) if columns else {}
    frame = clean.with_columns(
        ((pl.col(c).fill_null(params[c][0]) - params[c][0]) / params[c][1]).alias(c)
        for c in columns
    )
    return Standardized(frame=frame, imputed={c: n for c, n in nulls.items() if n})


def choose(previous: pl.DataFrame | None, fresh: pl.DataFrame,
           refit_growth: float) -> tuple[pl.DataFrame, str]:
    """Keep the previous parameters unless the features changed or the data grew enough.

    Returns the parameters to use and the reason, for the asset's metadata.
    """
    if previous is None or previous.height == 0:
        return fresh, "refit: no earlier parameters"
    key = ["source_table", "feature"]
    if set(previous.select(key).iter_rows()) != set(fresh.select(key).iter_rows()):
        return fresh, "refit: the feature set changed"
    before = int(previous["n_observations"].min())
    now = int(fresh["n_observations"].min())
    if before <= 0 or now >= before * (1.0 + refit_growth) or now < before:
        return fresh, f"refit: observations {before} -> {now} (threshold {refit_growth:.0%})"
    return previous.cast(STATS_SCHEMA), f"reused: observations {before} -> {now}"
