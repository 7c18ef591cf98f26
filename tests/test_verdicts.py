"""The asset checks' verdicts, tested directly on values (no Dagster)."""

import math

import polars as pl

from deeprule.verdicts import (
    metric_floor,
    no_missing_values,
    prediction_near_realized,
    reproduces,
    standardization_covers,
)


def test_a_nan_or_null_feature_fails_and_is_named() -> None:
    clean = pl.DataFrame({"customer_id": ["a", "b"], "x": [0.1, -0.2], "y": [1.0, 2.0]})
    assert no_missing_values(clean, ["customer_id"]).passed
    dirty = clean.with_columns(pl.Series("x", [math.nan, 0.0]), pl.Series("y", [None, 1.0]))
    verdict = no_missing_values(dirty, ["customer_id"])
    assert not verdict.passed and verdict.metadata["bad_columns"] == "x, y"
    assert not no_missing_values(clean.head(0), ["customer_id"]).passed  # empty: nothing to use


def test_standardization_must_cover_every_feature_with_a_usable_std() -> None:
    stats = pl.DataFrame({"feature": ["x", "y"], "mean": [0.0, 1.0], "std": [1.0, 2.0]})
    assert standardization_covers(["x", "y"], stats).passed
    assert standardization_covers(["x", "z"], stats).metadata["missing"] == "z"
    flat = stats.with_columns(pl.Series("std", [1.0, 0.0]))
    assert standardization_covers(["x", "y"], flat).metadata["degenerate"] == "y"


def test_a_model_worse_than_its_predecessor_beyond_the_tolerance_fails() -> None:
    assert metric_floor({"test_wape": 0.5}, None, 0.1).passed
    assert metric_floor({"test_wape": 0.54}, {"test_wape": 0.5}, 0.1).passed
    worse = metric_floor({"test_wape": 0.6, "test_mae": 1.0}, {"test_wape": 0.5, "test_mae": 1.0},
                         0.1)
    assert not worse.passed and worse.metadata["worse"] == "test_wape"


def test_reproduction_gap_is_relative() -> None:
    assert reproduces(1000.0, 1000.4, 1e-3).passed
    assert not reproduces(1000.0, 1010.0, 1e-3).passed


def _plans(predicted: list[float | None], realized: list[float]) -> pl.DataFrame:
    return pl.DataFrame({"plan": [f"p{i}" for i in range(len(realized))],
                         "predicted_profit": predicted, "profit": realized},
                        schema={"plan": pl.String, "predicted_profit": pl.Float64,
                                "profit": pl.Float64})


def test_a_plan_whose_predicted_profit_is_far_from_realized_is_named() -> None:
    near = _plans([None, 110.0, 85.0, None], [100.0, 100.0, 100.0, 300.0])
    verdict = prediction_near_realized(near, bound=0.25)
    assert verdict.passed and verdict.metadata["plans_judged"] == 2  # unpredicted rows ignored
    assert verdict.metadata["worst_plan"] == "p2" and verdict.metadata["worst_gap"] == -0.15
    far = _plans([None, 140.0, 95.0], [100.0, 100.0, 100.0])
    verdict = prediction_near_realized(far, bound=0.25)
    assert not verdict.passed and verdict.metadata["over_bound"] == "p1"
    assert verdict.metadata["worst_gap"] == 0.4  # predicted 40 % above what was realized


def test_nothing_realized_or_no_number_fails_and_no_prediction_passes() -> None:
    assert not prediction_near_realized(_plans([5.0], [0.0]), bound=0.25).passed
    assert not prediction_near_realized(_plans([math.nan], [100.0]), bound=0.25).passed
    nothing = prediction_near_realized(_plans([None], [100.0]), bound=0.25)
    assert nothing.passed and nothing.metadata["plans_judged"] == 0
