"""Temporal statistics on series whose answers are known."""

from datetime import date

import numpy as np
import polars as pl
import pytest

from deeprule.features.temporal import (
    TemporalParams,
    category_temporal,
    customer_temporal,
    series_features,
)

MONTHS = pl.date_range(date(2023, 1, 1), date(2023, 12, 1), interval="1mo", eager=True)


def test_fourier_finds_the_planted_cycle() -> None:
    t = np.arange(12)
    series = 100 + 30 * np.cos(2 * np.pi * t / 4) + 10 * np.cos(2 * np.pi * t / 6)
    f = series_features(series[None, :], "u", TemporalParams(window=3, fourier_k=3))
    assert f["u_fft_freq_1"][0] == pytest.approx(0.25)
    assert f["u_fft_amp_1"][0] == pytest.approx(30.0)
    assert f["u_fft_freq_2"][0] == pytest.approx(1 / 6)
    assert f["u_fft_amp_2"][0] == pytest.approx(10.0)
    assert f["u_fft_amp_3"][0] == pytest.approx(0.0, abs=1e-9)
    assert f["u_mean"][0] == pytest.approx(100.0)


def test_window_statistics_and_trend() -> None:
    series = np.array([[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]])
    f = series_features(series, "u", TemporalParams(window=3, fourier_k=1))
    assert f["u_roll_mean_w3"][0] == pytest.approx(5.0)
    assert f["u_roll_var_w3"][0] == pytest.approx(2.0 / 3.0)
    assert f["u_trend"][0] == pytest.approx(1.0)
    assert f["u_active_share"][0] == 1.0


def test_short_series_pads_missing_fourier_peaks_with_zero() -> None:
    f = series_features(np.array([[5.0, 1.0, 3.0]]), "u", TemporalParams(window=6, fourier_k=3))
    assert f["u_fft_freq_1"][0] == pytest.approx(1 / 3)
    assert f["u_fft_amp_2"][0] == f["u_fft_freq_2"][0] == 0.0
    assert f["u_roll_mean_w6"][0] == pytest.approx(3.0)  # window longer than history: all


def _monthly() -> pl.DataFrame:
    return pl.DataFrame({
        "customer_id": ["a", "a", "a", "b"],
        "primary_category": ["X", "Y", "X", "X"],
        "month": [MONTHS[0], MONTHS[0], MONTHS[2], MONTHS[1]],
        "units": [10.0, 30.0, 20.0, 5.0],
        "revenue": [100.0, 300.0, 180.0, 60.0],
    })


def test_customer_series_are_zero_filled_on_the_month_grid() -> None:
    out = customer_temporal(_monthly(), ["a", "b", "c"], TemporalParams(window=2, fourier_k=1))
    a, b, c = out.rows(named=True)
    # a: 40, 0, 20 over three months; c never shipped
    assert a["units_mean"] == pytest.approx(20.0)
    assert a["units_roll_mean_w2"] == pytest.approx(10.0)
    assert a["units_active_share"] == pytest.approx(2 / 3)
    assert a["avg_unit_price"] == pytest.approx(580.0 / 60.0)
    assert b["units_mean"] == pytest.approx(5.0 / 3.0)
    assert c["units_mean"] == 0.0 and c["avg_unit_price"] is None


def test_every_customer_category_pair_gets_a_row_and_a_share() -> None:
    out = category_temporal(_monthly(), ["a", "b"], ["Y", "X", "Z"], TemporalParams())
    assert out.height == 6
    shares = {(r["customer_id"], r["primary_category"]): r["cat_units_share"]
              for r in out.iter_rows(named=True)}
    assert shares[("a", "X")] == pytest.approx(0.5)
    assert shares[("a", "Y")] == pytest.approx(0.5)
    assert shares[("b", "X")] == 1.0 and shares[("b", "Z")] == 0.0
