"""Z-score parameters: fit, apply with imputation, and the keep-or-refit rule."""

import polars as pl
import pytest

from deeprule.features import standardize

KEYS = ("customer_id",)


def _raw() -> pl.DataFrame:
    return pl.DataFrame({
        "customer_id": ["a", "b", "c", "d"],
        "x": [1.0, 2.0, 3.0, None],
        "flat": [5.0, 5.0, 5.0, 5.0],
        "gone": [None, None, None, None],
    }, schema={"customer_id": pl.String, "x": pl.Float64, "flat": pl.Float64,
               "gone": pl.Float64})


def test_fit_handles_constant_and_empty_columns() -> None:
    stats = standardize.fit(_raw(), KEYS, "t", 10)
    rows = {r["feature"]: r for r in stats.iter_rows(named=True)}
    assert rows["x"]["mean"] == pytest.approx(2.0)
    assert rows["x"]["std"] == pytest.approx((2 / 3) ** 0.5)
    assert rows["flat"]["std"] == 1.0
    assert rows["gone"]["mean"] == 0.0 and rows["gone"]["std"] == 1.0


def test_apply_imputes_with_the_training_mean() -> None:
    raw = _raw()
    out = standardize.apply(raw, KEYS, standardize.fit(raw, KEYS, "t", 10))
    assert out.frame["x"][3] == 0.0
    assert out.frame["flat"].to_list() == [0.0] * 4
    assert out.imputed == {"x": 1, "gone": 4}
    assert out.frame.null_count().sum_horizontal().item() == 0


def test_apply_refuses_features_without_parameters() -> None:
    stats = standardize.fit(_raw().drop("x"), KEYS, "t", 10)
    with pytest.raises(ValueError, match="x"):
        standardize.apply(_raw(), KEYS, stats)


def test_parameters_are_kept_until_the_data_grows_enough() -> None:
    old = standardize.fit(_raw(), KEYS, "t", 100)
    slightly_more = standardize.fit(_raw().with_columns(x=pl.col("x") * 3), KEYS, "t", 110)
    kept, why = standardize.choose(old, slightly_more, refit_growth=0.25)
    assert kept.equals(old) and why.startswith("reused")
    much_more = standardize.fit(_raw(), KEYS, "t", 130)
    assert standardize.choose(old, much_more, 0.25)[1].startswith("refit")
    other_features = standardize.fit(_raw().drop("flat"), KEYS, "t", 100)
    assert "feature set" in standardize.choose(old, other_features, 0.25)[1]
    assert standardize.choose(None, old, 0.25)[1].startswith("refit")
