"""Scorer features never look ahead; time splits are ordered and fail clearly."""

from datetime import date

import numpy as np
import polars as pl
import pytest

from deeprule.models.dataset import choose_split
from deeprule.models.frames import FeatureSpec, SourceTables
from deeprule.models.matrix import fit_spec, training_frame
from deeprule.models.split import TimeSplit, time_split

MONTHS = [date(2024, m, 1) for m in range(1, 8)]


def test_time_split_orders_months_and_roundtrips() -> None:
    split = time_split(list(reversed(MONTHS)), validation_months=2, test_months=1)
    assert split.train == MONTHS[:4] and split.validation == MONTHS[4:6]
    assert split.test == MONTHS[6:]
    assert TimeSplit.from_dict(split.to_dict()) == split


def test_time_split_errors_name_the_problem() -> None:
    with pytest.raises(ValueError, match="cannot hold"):
        time_split(MONTHS[:2], 1, 1)
    with pytest.raises(ValueError, match="at least one validation month"):
        time_split(MONTHS, 0, 1)


def test_short_history_falls_back_to_one_validation_and_one_test_month() -> None:
    split = choose_split(MONTHS[:3], validation_months=2, test_months=2)
    assert (len(split.train), len(split.validation), len(split.test)) == (1, 1, 1)


def test_history_features_do_not_see_the_rows_own_or_later_months(
        tiny_tables: SourceTables) -> None:
    """Changing the last month's units must not change any feature of earlier rows."""
    months = sorted(tiny_tables.shipments["month"].unique().to_list())
    spec = fit_spec(tiny_tables, months[:1])
    changed = SourceTables(tiny_tables.shipments.with_columns(
        units=pl.when(pl.col("month") == months[-1]).then(pl.col("units") * 5 + 7)
        .otherwise(pl.col("units"))), tiny_tables.skus)
    before = training_frame(tiny_tables, spec, months)
    after = training_frame(changed, spec, months)
    earlier = (before.rows["month"] < months[-1]).to_numpy()
    assert earlier.any()
    np.testing.assert_array_equal(before.high, after.high)
    np.testing.assert_array_equal(before.low[earlier], after.low[earlier])
    assert np.array_equal(before.column("prior_log_units"), after.column("prior_log_units"))


def test_whole_history_feature_columns_are_not_used(tiny_tables: SourceTables) -> None:
    customers = tiny_tables.shipments["customer_id"].unique().sort()
    features = pl.DataFrame({"customer_id": customers,
                             "units_mean": np.arange(len(customers), dtype=float),
                             "business_scale": np.linspace(0, 1, len(customers))})
    tables = SourceTables(tiny_tables.shipments, tiny_tables.skus, customer_features=features)
    months = sorted(tiny_tables.shipments["month"].unique().to_list())
    spec = fit_spec(tables, months[:2])
    assert "cust__business_scale" in spec.high_columns
    assert not any("units_mean" in c for c in spec.high_columns)


def test_spec_roundtrips_through_json_dict(tiny_tables: SourceTables) -> None:
    months = sorted(tiny_tables.shipments["month"].unique().to_list())
    spec = fit_spec(tiny_tables, months[:2])
    again = FeatureSpec.from_dict(spec.to_dict())
    assert again == spec
    with pytest.raises(ValueError, match="no shipments in the training months"):
        fit_spec(tiny_tables, [date(1999, 1, 1)])
