"""Plan-prediction calibration on small instances whose answer is known."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import numpy as np
import polars as pl

from deeprule.models.calibration import (
    SOURCE_PSEUDO,
    CalibrationConfig,
    anchor_new_pairs,
    fit_calibration,
    fit_two_way,
    pair_prior,
    ratio_quantile,
)
from deeprule.models.frames import ScoringFrame
from deeprule.models.price import PriceBasis, PriceResponse

MONTH = date(2024, 6, 1)


def frame_and_response(true_units: np.ndarray, bias: float, traded: np.ndarray,
                       seed: int = 0) -> tuple[ScoringFrame, PriceResponse]:
    """Rows sold at their usual price with Poisson units around `true_units`, and a
    response predicting `bias` x the truth (elasticity 2 in log price)."""
    n = len(true_units)
    rng = np.random.default_rng(seed)
    list_price = np.full(n, 10.0)
    r_usual = np.full(n, np.log(0.9))
    rows = pl.DataFrame({"customer_id": [f"c{i % 7}" for i in range(n)],
                         "sku_id": [f"s{i % 11}" for i in range(n)],
                         "month": [MONTH] * n, "list_price": list_price,
                         "unit_price": list_price * 0.9, "r_usual": r_usual,
                         "units": rng.poisson(true_units).astype(np.float64),
                         "has_history": traded.astype(np.float64)})
    basis = PriceBasis()
    slopes = np.zeros((n, basis.size))
    slopes[:, 0] = 2.0  # g on phi_0 = r: constant elasticity 2
    level = np.log(bias * true_units) + basis.dot(slopes, r_usual, r_usual)
    response = PriceResponse(level, slopes, r_usual, list_price, basis)
    return ScoringFrame(rows, np.zeros((n, 1)), np.zeros((n, 1))), response


def test_calibration_removes_a_planted_over_prediction():
    rng = np.random.default_rng(1)
    truth = rng.uniform(5.0, 200.0, 2000)
    frame, response = frame_and_response(truth, bias=1.6, traded=np.ones(2000, dtype=bool))
    calibration = fit_calibration(frame, response, None, CalibrationConfig())
    usual = frame.column("unit_price")
    before = response.units(usual).sum() / truth.sum()
    after = calibration.apply(frame, response, None).units(usual).sum() / truth.sum()
    assert before > 1.5
    assert abs(after - 1.0) < 0.05
    assert calibration.summary()["calibrated"].to_list() == [True, False]


def test_calibration_keeps_units_monotone_in_price():
    truth = np.linspace(10.0, 100.0, 200)
    frame, response = frame_and_response(truth, bias=1.3, traded=np.ones(200, dtype=bool))
    calibrated = fit_calibration(frame, response, None).apply(frame, response, None)
    low, high = calibrated.units(np.full(200, 8.0)), calibrated.units(np.full(200, 9.5))
    assert (low > high).all()


def test_disabled_calibration_leaves_the_response_alone():
    truth = np.linspace(10.0, 100.0, 200)
    frame, response = frame_and_response(truth, bias=1.6, traded=np.ones(200, dtype=bool))
    config = replace(CalibrationConfig(), enabled=False)
    out = fit_calibration(frame, response, None, config).apply(frame, response, None)
    assert out is response


def test_a_segment_with_too_few_rows_keeps_factor_one():
    truth = np.full(10, 50.0)
    frame, response = frame_and_response(truth, bias=2.0, traded=np.ones(10, dtype=bool))
    out = fit_calibration(frame, response, None).apply(frame, response, None)
    np.testing.assert_allclose(out.level, response.level)


def test_new_pairs_are_anchored_on_the_prior_at_their_usual_price():
    truth = np.full(6, 100.0)
    traded = np.array([True, True, True, False, False, False])
    frame, response = frame_and_response(truth, bias=1.0, traded=traded)
    prior = np.array([1.0, 1.0, 1.0, 4.0, 20.0, np.nan])
    anchored = anchor_new_pairs(frame, response, prior, CalibrationConfig())
    units = anchored.units(frame.column("unit_price"))
    np.testing.assert_allclose(units, [100.0, 100.0, 100.0, 4.0, 20.0, 100.0], rtol=1e-9)
    np.testing.assert_allclose(anchored.slopes, response.slopes)  # the price response kept


def test_two_way_fit_recovers_planted_effects():
    rng = np.random.default_rng(3)
    a, b = rng.normal(0, 1, 30), rng.normal(0, 0.5, 40)
    row, col = rng.integers(0, 30, 20_000), rng.integers(0, 40, 20_000)
    y = 2.0 + a[row] + b[col] + rng.normal(0, 0.1, 20_000)
    config = replace(CalibrationConfig(), prior_ridge=1.0)
    mean, fa, fb = fit_two_way(y, row, col, 30, 40, config)
    fitted = mean + fa[row] + fb[col]
    assert np.abs(fitted - (2.0 + a[row] + b[col])).max() < 0.1


def test_pair_prior_scores_an_untraded_pair_from_its_customer_and_sku():
    """Big customer x popular SKU never traded together: the prior says many units; small
    customer x niche SKU: few. Shipments after the month are never read."""
    scale = {"big": 60.0, "small": 3.0}
    appeal = {"popular": 2.0, "niche": 0.5, "staple": 1.0}
    traded = [("big", "niche"), ("big", "staple"), ("small", "popular"), ("small", "staple")]
    ship = pl.DataFrame([{"customer_id": c, "sku_id": s, "month": date(2024, m, 1),
                          "units": int(scale[c] * appeal[s])}
                         for c, s in traded for m in range(1, 6)]
                        + [{"customer_id": "big", "sku_id": "popular",
                            "month": date(2024, 7, 1), "units": 1}])
    rows = pl.DataFrame({"customer_id": ["big", "small"], "sku_id": ["popular", "niche"],
                         "month": [MONTH, MONTH]})
    prior = pair_prior(ship, rows, replace(CalibrationConfig(), prior_ridge=0.1))
    assert prior[0] > 60.0  # truth 120
    assert prior[1] < 4.0  # truth 1.5


def test_pseudo_new_pairs_give_the_spread_but_not_the_level():
    """Traded rows scored as new: their prior is 2x too low, and their demand is 0.5x the
    prior's level on 60% of the rows and 1.75x on the rest (mean 1). The new-pair factor is
    the volume-weighted median ratio around the calibrated mean (0.5), not the 2x."""
    rng = np.random.default_rng(5)
    truth = rng.uniform(20.0, 200.0, 3000)
    skew = np.where(rng.random(3000) < 0.6, 0.5, 1.75)
    frame, response = frame_and_response(truth * skew, bias=1.0,
                                         traded=np.ones(3000, dtype=bool))
    config = replace(CalibrationConfig(), new_pair_quantile=0.5)
    calibration = fit_calibration(frame, response, None, config, 0.5 * truth)
    new = calibration.segments["new pair"]
    assert new.source == SOURCE_PSEUDO
    assert 0.4 < new.spread < 0.6
    factor = new.factor(np.array([10.0, 100.0]), CalibrationConfig().factor_bounds)
    np.testing.assert_allclose(factor, new.spread)


def test_ratio_quantile_weights_rows_by_predicted_units():
    predicted = np.array([0.1, 0.1, 10.0, 10.0])
    observed = np.array([0.0, 0.0, 5.0, 15.0])
    assert ratio_quantile(predicted, observed, 0.5) == 0.5
    assert ratio_quantile(np.zeros(2), np.ones(2), 0.5) == 1.0


def test_pseudo_new_prior_leaves_the_pairs_own_history_out():
    """A pair that sold 50x what its customer and SKU suggest: its in-sample prior reads its
    own history, its prior with folds (scored as a new pair) does not."""
    customers, skus = [f"c{i}" for i in range(6)], [f"s{j}" for j in range(6)]
    ship = pl.DataFrame([{"customer_id": c, "sku_id": s, "month": date(2024, m, 1),
                          "units": 1000 if (c, s) == ("c0", "s0") else 20}
                         for c in customers for s in skus for m in range(1, 4)])
    rows = pl.DataFrame({"customer_id": ["c0"], "sku_id": ["s0"], "month": [MONTH]})
    config = replace(CalibrationConfig(), prior_ridge=0.1)
    in_sample = pair_prior(ship, rows, config)[0]
    as_new = pair_prior(ship, rows, config, folds=2)[0]
    assert in_sample > 2 * as_new
    assert as_new < 60.0
