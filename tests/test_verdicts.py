"""The asset checks' verdicts, tested directly on values (no Dagster)."""

import math

import polars as pl

from deeprule.verdicts import (
    metric_floor,
    no_missing_values,
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
