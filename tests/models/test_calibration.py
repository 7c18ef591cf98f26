"""Plan-prediction calibration on small instances whose answer is known."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import numpy as np
import polars as pl
import pytest

from deeprule.models.calibration import (
    SOURCE_PSEUDO,
    CalibrationConfig,
    anchor_new_pairs,
    calibrated,
    fit_additive,
    fit_calibration,
    pair_prior,
    ratio_quantile,
    sales_tiers,
)
from deeprule.models.frames import ScoringFrame, SourceTables
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


def with_skus(shipments: pl.DataFrame) -> SourceTables:
    """The shipments' tables with every SKU in one category and one brand (the interactions
    then add nothing a customer effect does not already hold)."""
    skus = shipments.select(pl.col("sku_id").unique().sort()).with_columns(
        primary_category=pl.lit("all"), brand=pl.lit("all"))
    return SourceTables(shipments, skus)


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
    tables = with_skus(frame.rows)
    enabled = fit_calibration(frame, response, None)
    assert calibrated(enabled, frame, response, tables) is not response
    config = replace(CalibrationConfig(), enabled=False)
    disabled = fit_calibration(frame, response, None, config)
    assert calibrated(disabled, frame, response, tables) is response
    assert calibrated(None, frame, response, tables) is response


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
    mean, (fa, fb) = fit_additive(y, [row, col], [30, 40], [1.0, 1.0], 25)
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
    prior = pair_prior(with_skus(ship), rows, replace(CalibrationConfig(), prior_ridge=0.1))
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
    in_sample = pair_prior(with_skus(ship), rows, config)[0]
    as_new = pair_prior(with_skus(ship), rows, config, folds=2)[0]
    assert in_sample > 2 * as_new
    assert as_new < 60.0


def planted_world(seed: int = 7, customers: int = 40, skus: int = 60, traded_share: float = 0.3
                  ) -> dict[str, np.ndarray]:
    """Log units = 1.5 + customer + SKU + customer x category + customer x brand effects
    (the interactions double-centred: what a main effect holds is not planted twice), and
    which pairs the customer trades."""
    rng = np.random.default_rng(seed)
    category, brand = rng.integers(0, 4, skus), rng.integers(0, 5, skus)
    by_category = rng.normal(0, 0.8, (customers, 4))
    by_brand = rng.normal(0, 0.6, (customers, 5))
    return {"customer": rng.normal(0, 0.7, customers), "sku": rng.normal(0, 0.5, skus),
            "category": category, "brand": brand,
            "by_category": double_centred(by_category), "by_brand": double_centred(by_brand),
            "traded": rng.random((customers, skus)) < traded_share}


def double_centred(effect: np.ndarray) -> np.ndarray:
    """Rows and columns of `effect` centred on 0 (the part no main effect can absorb)."""
    return (effect - effect.mean(axis=1, keepdims=True) - effect.mean(axis=0, keepdims=True)
            + effect.mean())


def planted_log_units(w: dict[str, np.ndarray]) -> np.ndarray:
    """customers x SKUs matrix of the planted log units."""
    return (1.5 + w["customer"][:, None] + w["sku"][None, :]
            + w["by_category"][:, w["category"]] + w["by_brand"][:, w["brand"]])


def test_additive_fit_recovers_planted_customer_by_category_and_brand_effects():
    w = planted_world()
    cust, sku = np.nonzero(w["traded"])
    cust, sku = np.repeat(cust, 4), np.repeat(sku, 4)  # four months of each traded pair
    rng = np.random.default_rng(1)
    y = planted_log_units(w)[cust, sku] + rng.normal(0, 0.1, len(cust))
    n_c = len(w["customer"])
    groups = [cust, sku, cust * 4 + w["category"][sku], cust * 5 + w["brand"][sku]]
    mean, (a, b, g, h) = fit_additive(y, groups, [n_c, len(w["sku"]), n_c * 4, n_c * 5],
                                      [1.0, 1.0, 1.0, 1.0], 25)
    fitted_g, fitted_h = double_centred(g.reshape(n_c, 4)), double_centred(h.reshape(n_c, 5))
    assert np.abs(fitted_g - w["by_category"]).mean() < 0.1  # planted sd 0.8
    assert np.abs(fitted_h - w["by_brand"]).mean() < 0.1  # planted sd 0.6
    assert np.corrcoef(fitted_g.ravel(), w["by_category"].ravel())[0, 1] > 0.97
    assert np.corrcoef(fitted_h.ravel(), w["by_brand"].ravel())[0, 1] > 0.97
    fitted = mean + a[cust] + b[sku] + g[groups[2]] + h[groups[3]]
    assert np.abs(fitted - planted_log_units(w)[cust, sku]).mean() < 0.1


def test_hierarchical_prior_ranks_new_pairs_better_than_the_two_way_one():
    """A customer's units of the SKUs it trades reveal its taste for their categories and
    brands; the two-way prior cannot read it, the hierarchical one ranks the never-traded
    pairs by it."""
    w = planted_world()
    truth = np.exp(planted_log_units(w))
    customers = [f"c{i:02d}" for i in range(len(w["customer"]))]
    skus = [f"s{j:02d}" for j in range(len(w["sku"]))]
    rng = np.random.default_rng(2)
    cust, sku = np.nonzero(w["traded"])
    ship = pl.DataFrame([{"customer_id": customers[c], "sku_id": skus[s],
                          "month": date(2024, m, 1), "units": int(rng.poisson(truth[c, s]))}
                         for c, s in zip(cust, sku, strict=True) for m in range(1, 5)])
    sku_table = pl.DataFrame({"sku_id": skus,
                              "primary_category": [f"cat{k}" for k in w["category"]],
                              "brand": [f"brand{k}" for k in w["brand"]]})
    new_c, new_s = np.nonzero(~w["traded"])
    rows = pl.DataFrame({"customer_id": [customers[c] for c in new_c],
                         "sku_id": [skus[s] for s in new_s], "month": [MONTH] * len(new_c)})
    tables = SourceTables(ship, sku_table)
    two_way = pair_prior(tables, rows, replace(CalibrationConfig(), prior_interactions=()))
    hierarchical = pair_prior(tables, rows, CalibrationConfig())
    target = np.log(truth[new_c, new_s])

    def log_corr(prior: np.ndarray) -> float:
        return float(np.corrcoef(np.log(prior + 0.5), target)[0, 1])

    assert log_corr(two_way) < 0.75
    assert log_corr(hierarchical) > log_corr(two_way) + 0.15
    assert log_corr(hierarchical) > 0.85


def test_prior_names_a_sku_missing_from_the_sku_table():
    ship = pl.DataFrame({"customer_id": ["c0"], "sku_id": ["s0"], "month": [date(2024, 1, 1)],
                         "units": [5]})
    skus = pl.DataFrame({"sku_id": ["s1"], "primary_category": ["a"], "brand": ["b"]})
    with pytest.raises(ValueError, match="s0"):
        pair_prior(SourceTables(ship, skus), ship.with_columns(month=pl.lit(MONTH)),
                   CalibrationConfig())


def test_sales_tiers_are_the_share_of_each_tier_the_observed_units_covered():
    """Half the volume sold 0.5x its forecast, half 1.5x: the forecast tier sells
    (0.5 + 1) / 2, the [1, 2] tier (0 + 0.5) / 2, the [2, 3] tier nothing (not offered)."""
    forecast = np.array([10.0, 10.0, 0.0])
    tiers = sales_tiers(forecast, np.array([5.0, 15.0, 4.0]), (1.0, 2.0, 3.0))
    assert tiers.upper == (1.0, 2.0)
    assert tiers.sold == pytest.approx((0.75, 0.25))


def test_sales_tiers_weight_rows_by_their_forecast():
    """A row forecast at 1 unit that sold 3x says little next to one forecast at 49 that
    sold exactly its forecast."""
    tiers = sales_tiers(np.array([1.0, 49.0]), np.array([3.0, 49.0]), (1.0, 2.0))
    assert tiers.sold == pytest.approx((1.0, 0.02))


def test_calibration_carries_the_validation_rows_sales_tiers():
    """Poisson units around a calibrated forecast: some of a tier past it sells, less than
    of the forecast itself; `tier_bounds=(1.0,)` offers no tier past the forecast."""
    rng = np.random.default_rng(2)
    truth = rng.uniform(2.0, 20.0, 2000)
    frame, response = frame_and_response(truth, bias=1.0, traded=np.ones(2000, dtype=bool))
    tiers = fit_calibration(frame, response, None, CalibrationConfig()).tiers
    assert tiers.sold[0] > 0.85
    assert 0.02 < tiers.sold[1] < 0.5
    off = fit_calibration(frame, response, None, CalibrationConfig(tier_bounds=(1.0,))).tiers
    assert off.upper == (1.0,)


def shipped(units: dict[tuple[str, str], float], months: range = range(1, 6)) -> pl.DataFrame:
    """Each (customer, SKU) shipped its units every month of `months` (2024)."""
    return pl.DataFrame([{"customer_id": c, "sku_id": s, "month": date(2024, m, 1),
                          "units": int(u)} for (c, s), u in units.items() for m in months])


def test_launch_effect_lifts_a_launch_nobody_has_bought_yet():
    """Old SKUs sell 10 units everywhere; the two launches the first customers were offered
    sell 40; a third launch nobody has bought yet is expected at the launches' 40, not near
    the catalogue's average."""
    old = {(c, s): 10.0 for c in ("c0", "c1", "c2", "c3") for s in ("old0", "old1")}
    launches = {("c0", "new0"): 40.0, ("c1", "new0"): 40.0, ("c1", "new2"): 40.0,
                ("c2", "new2"): 40.0}
    ship = pl.concat([shipped(old), shipped(launches, range(3, 6))])
    skus = pl.DataFrame({"sku_id": ["old0", "old1", "new0", "new1", "new2"],
                         "primary_category": ["a"] * 5, "brand": ["b"] * 5,
                         "launch_month": [date(2019, 1, 1), None, date(2024, 3, 1), MONTH,
                                          date(2024, 3, 1)]})
    rows = pl.DataFrame({"customer_id": ["c3"], "sku_id": ["new1"], "month": [MONTH]})
    tables = SourceTables(ship, skus)
    config = replace(CalibrationConfig(), prior_ridge=1.0)
    with_launches = pair_prior(tables, rows, config)[0]
    without = pair_prior(tables, rows, replace(config, launch_effect=False))[0]
    assert 35.0 < with_launches < 45.0
    assert without < 20.0  # the catalogue's average, the launches' rows included


def test_document_lifts_a_wanted_brand_to_the_customers_strongest():
    """c0 sells 100 units of brand A and 5 of brand B; brand C it never got (others sell 10
    of it). Its documents name C as wanted: the prior plans C like A. Not wanted, or with
    the lifts off, C stays near the customer's average."""
    units = {("c0", "a1"): 100.0, ("c0", "b1"): 5.0, ("c1", "c1"): 10.0, ("c1", "a1"): 10.0,
             ("c1", "b1"): 10.0, ("c2", "c1"): 10.0, ("c2", "b1"): 10.0}
    skus = pl.DataFrame({"sku_id": ["a1", "b1", "c1"], "primary_category": ["x"] * 3,
                         "brand": ["A", "B", "C"]})
    rows = pl.DataFrame({"customer_id": ["c0", "c0"], "sku_id": ["c1", "c1"],
                         "month": [MONTH, MONTH], "doc_brand_wanted": [1.0, 0.0],
                         "doc_announced_now": [0.0, 0.0]})
    tables = SourceTables(shipped(units), skus)
    wanted, unstated = pair_prior(tables, rows, CalibrationConfig())
    off = pair_prior(tables, rows, replace(CalibrationConfig(), document_lifts=False))
    assert wanted > 2.5 * unstated
    assert unstated == pytest.approx(off[0], rel=1e-9)
    assert off[1] == pytest.approx(unstated, rel=1e-9)


def test_launch_month_that_is_not_a_date_is_an_error_naming_the_column():
    ship = shipped({("c0", "s0"): 5.0})
    skus = pl.DataFrame({"sku_id": ["s0"], "primary_category": ["a"], "brand": ["b"],
                         "launch_month": ["2024-03"]})
    with pytest.raises(ValueError, match="launch_month"):
        pair_prior(SourceTables(ship, skus), ship.with_columns(month=pl.lit(MONTH)),
                   CalibrationConfig())
