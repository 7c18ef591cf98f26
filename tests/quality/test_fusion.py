"""Eq. 15 (strict override, soft blend) and eqs. 16-17 (trend calibration) on hand-made rows."""

from datetime import date

import numpy as np
import polars as pl
import pytest

from deeprule.quality.fusion import MAX_BETA, Calibration, calibrate, choose_beta, fuse, trend_delta
from tests.helpers.quality import panel

NAN = np.nan


def test_strict_rule_overrides_and_soft_rule_blends_with_alpha() -> None:
    a_init = np.array([100.0, 100.0, 100.0, 100.0, 100.0])
    kind = np.array(["strict", "soft", "soft", "", "soft"])
    g = np.array([40.0, 60.0, 60.0, NAN, 60.0])
    alpha = np.array([0.9, 0.25, NAN, NAN, 1.0])
    fused = fuse(a_init, kind, g, alpha)
    assert fused[0] == 40.0  # strict: the rule's value, whatever α says
    assert fused[1] == pytest.approx(0.25 * 100 + 0.75 * 60)
    assert fused[2] == 100.0  # soft rule without α: not blended
    assert fused[3] == 100.0  # no rule
    assert fused[4] == 100.0  # α = 1 keeps the model


def test_calibration_clips_the_trend_at_kappa() -> None:
    a_fused = np.array([100.0, 100.0, 100.0, 100.0])
    delta = np.array([500.0, -500.0, 3.0, NAN])
    out = calibrate(a_fused, delta, Calibration(tau=1, kappa=10.0, beta=0.1))
    assert out == pytest.approx([0.1 * 10 + 90, -0.1 * 10 + 90, 0.1 * 3 + 90, 90.0])


@pytest.mark.parametrize("beta", [-0.01, MAX_BETA + 1e-6, 0.5])
def test_beta_outside_zero_to_a_tenth_is_refused(beta: float) -> None:
    with pytest.raises(ValueError, match="beta"):
        Calibration(beta=beta)


def test_chosen_beta_stays_in_range_and_prefers_off_when_trend_hurts() -> None:
    units = np.array([100.0, 120.0])
    assert choose_beta(units, units.copy(), np.array([50.0, -50.0]), 1, 20.0) == 0.0
    over = units * 1.2  # the model over-forecasts: shrinking helps
    beta = choose_beta(units, over, np.zeros(2), 1, 20.0)
    assert 0.0 < beta <= MAX_BETA


def test_trend_delta_uses_tau_periods_and_stops_at_the_forecast_origin() -> None:
    # months 1..6; split: 1-4 train, 5 valid, 6 test -> origin = month 5
    frame = panel({("C1", "S1"): [10, 20, 40, 80, 160, 999]})
    one = trend_delta(frame, tau=1, origin=date(2024, 5, 1)).to_list()
    assert one[0] is None and one[1] is None  # no month t-2 yet
    assert one[2] == 20 - 10 and one[4] == 80 - 40
    assert one[5] == 160 - 80  # test month: window ends at the origin, never sees 999
    two = trend_delta(frame, tau=2, origin=date(2024, 5, 1)).to_list()
    assert two[4] == pytest.approx(((80 - 20) + (40 - 10)) / 2)


def test_trend_delta_skips_months_a_pair_did_not_ship() -> None:
    frame = panel({("C1", "S1"): [10, 20, 40, 80, 160]}).filter(
        pl.col("month") != date(2024, 2, 1))
    assert trend_delta(frame, tau=1, origin=None).to_list() == [None, None, None, 80 - 40]
    # tau = 2 at month 5: (a4 - a2) is missing, (a3 - a1) is not: the mean of what exists
    assert trend_delta(frame, tau=2, origin=None).to_list()[3] == 40 - 10
