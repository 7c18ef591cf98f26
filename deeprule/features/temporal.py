"""Temporal statistics of monthly sales series: rolling window, Fourier peaks, trend.

Series are zero-filled on the full month grid (a month without shipments is a
month with zero units), one row per customer or per customer x category, and
every statistic is computed on the whole matrix at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb
import numpy as np
import polars as pl

from deeprule.features.sqlfiles import load_sql

MONTHLY_SCHEMA: dict[str, type[pl.DataType]] = {
    "customer_id": pl.String, "primary_category": pl.String, "month": pl.Date,
    "units": pl.Float64, "revenue": pl.Float64, "n_skus": pl.Int64,
}


@dataclass(frozen=True)
class TemporalParams:
    """Window length W (months) of the rolling statistics and the number k of Fourier peaks."""

    window: int = 3
    fourier_k: int = 3

    def __post_init__(self) -> None:
        if self.window < 1 or self.fourier_k < 0:
            raise ValueError(f"need window >= 1 and fourier_k >= 0, got {self}")


def monthly_sales(conn: duckdb.DuckDBPyConnection, month: date) -> pl.DataFrame:
    """One month of units and revenue per customer x category (sql/features_monthly_sales)."""
    df = conn.execute(load_sql("features_monthly_sales"), {"month": month}).pl()
    return df.cast(MONTHLY_SCHEMA)


def month_grid(months: pl.Series) -> list[date]:
    """Every first-of-month from the earliest to the latest month present."""
    if months.len() == 0:
        return []
    return pl.date_range(months.min(), months.max(), interval="1mo", eager=True).to_list()


def series_matrix(
    monthly: pl.DataFrame, rows: pl.DataFrame, value: str, grid: list[date]
) -> np.ndarray:
    """rows.height x len(grid) matrix of `value`, aligned with `rows`, zero where absent."""
    keys = rows.columns
    if not grid:
        return np.zeros((rows.height, 0))
    summed = monthly.group_by([*keys, "month"]).agg(pl.col(value).sum())
    index = pl.DataFrame({"month": grid}).with_row_index("t")
    cells = (rows.with_row_index("r").join(summed, on=keys).join(index, on="month")
             .select("r", "t", value))
    matrix = np.zeros((rows.height, len(grid)))
    matrix[cells["r"].to_numpy(), cells["t"].to_numpy()] = cells[value].to_numpy()
    return matrix


def _trend(matrix: np.ndarray) -> np.ndarray:
    """OLS slope of each row against the month index (units per month)."""
    n = matrix.shape[1]
    if n < 2:
        return np.zeros(matrix.shape[0])
    t = np.arange(n) - (n - 1) / 2.0
    return (matrix - matrix.mean(axis=1, keepdims=True)) @ t / (t @ t)


def _fourier_peaks(matrix: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Amplitudes and frequencies (cycles per month) of the k strongest non-constant
    components of each demeaned row; missing peaks (short series) are (0, 0)."""
    rows, n = matrix.shape
    amp = np.zeros((rows, k))
    freq = np.zeros((rows, k))
    if n < 2 or k == 0:
        return amp, freq
    spectrum = np.fft.rfft(matrix - matrix.mean(axis=1, keepdims=True), axis=1)[:, 1:]
    bins = np.arange(1, spectrum.shape[1] + 1)
    scale = np.where(2 * bins == n, 1.0 / n, 2.0 / n)  # the Nyquist bin is not mirrored
    amplitude = np.abs(spectrum) * scale
    order = np.argsort(-amplitude, axis=1, kind="stable")[:, :k]
    found = order.shape[1]
    amp[:, :found] = np.take_along_axis(amplitude, order, axis=1)
    freq[:, :found] = bins[order] / n
    freq[amp == 0.0] = 0.0
    return amp, freq


def series_features(matrix: np.ndarray, prefix: str, params: TemporalParams,
                    fourier: bool = True) -> dict[str, np.ndarray]:
    """Per row: mean, last-window mean and variance, trend, active share, Fourier peaks."""
    w = params.window
    last = matrix[:, -w:]
    n_rows = matrix.shape[0]
    empty = matrix.shape[1] == 0
    features = {
        f"{prefix}_mean": np.zeros(n_rows) if empty else matrix.mean(axis=1),
        f"{prefix}_roll_mean_w{w}": np.zeros(n_rows) if empty else last.mean(axis=1),
        f"{prefix}_roll_var_w{w}": np.zeros(n_rows) if empty else last.var(axis=1),
        f"{prefix}_trend": _trend(matrix),
        f"{prefix}_active_share": np.zeros(n_rows) if empty else (matrix > 0).mean(axis=1),
    }
    if fourier:
        amp, freq = _fourier_peaks(matrix, params.fourier_k)
        for i in range(params.fourier_k):
            features[f"{prefix}_fft_amp_{i + 1}"] = amp[:, i]
            features[f"{prefix}_fft_freq_{i + 1}"] = freq[:, i]
    return features


def customer_temporal(
    monthly: pl.DataFrame, customer_ids: list[str], params: TemporalParams
) -> pl.DataFrame:
    """Per customer: statistics of the units series (with Fourier peaks), of the revenue
    series (level, window, trend), and the average realized unit price (null without
    any units)."""
    rows = pl.DataFrame({"customer_id": customer_ids}, schema={"customer_id": pl.String})
    grid = month_grid(monthly["month"])
    units = series_matrix(monthly, rows, "units", grid)
    revenue = series_matrix(monthly, rows, "revenue", grid)
    total_units = units.sum(axis=1)
    price = np.divide(revenue.sum(axis=1), total_units, out=np.full(rows.height, np.nan),
                      where=total_units > 0)
    return rows.with_columns(
        **{k: pl.Series(v, dtype=pl.Float64) for k, v in series_features(
            units, "units", params).items()},
        **{k: pl.Series(v, dtype=pl.Float64) for k, v in series_features(
            revenue, "revenue", params, fourier=False).items()
           if k != "revenue_active_share"},  # the same months as units_active_share
        avg_unit_price=pl.Series(price, dtype=pl.Float64).fill_nan(None),
    )


def category_temporal(
    monthly: pl.DataFrame, customer_ids: list[str], categories: list[str],
    params: TemporalParams,
) -> pl.DataFrame:
    """Per customer x primary category (every pair, zero series where never shipped):
    statistics of the units series and the category's share of the customer's units."""
    rows = pl.DataFrame({"customer_id": customer_ids}, schema={"customer_id": pl.String}).join(
        pl.DataFrame({"primary_category": sorted(categories)},
                     schema={"primary_category": pl.String}), how="cross")
    units = series_matrix(monthly, rows, "units", month_grid(monthly["month"]))
    totals = rows.with_columns(u=units.sum(axis=1)).with_columns(
        total=pl.col("u").sum().over("customer_id"))
    share = np.divide(totals["u"].to_numpy(), totals["total"].to_numpy(),
                      out=np.zeros(rows.height), where=totals["total"].to_numpy() > 0)
    return rows.with_columns(
        **{k: pl.Series(v, dtype=pl.Float64) for k, v in series_features(
            units, "cat_units", params).items()},
        cat_units_share=pl.Series(share, dtype=pl.Float64),
    )
