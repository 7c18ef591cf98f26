"""Feature assets in-process on the tiny world: contracts, coverage reporting, incrementality."""

from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
import polars as pl
import pytest

from assets.features import (
    customer_features,
    customer_monthly_sales,
    sku_features,
    store_affiliation,
)
from assets.raw import raw_tables, shipments
from tests.helpers.encoders import HashEncoder
from tests.helpers.warehouse import TINY_MONTHS, tiny_resources

FEATURE_ASSETS = [store_affiliation, customer_monthly_sales, customer_features, sku_features]


def _resources(database: Path, encoder: HashEncoder) -> dict:
    resources = tiny_resources(database)
    resources["sku_embedder"] = encoder
    return resources


def _run(resources: dict, selection: list[dg.AssetsDefinition], **kwargs) -> None:
    result = dg.materialize([*raw_tables, shipments, *FEATURE_ASSETS], resources=resources,
                            selection=selection, **kwargs)
    assert result.success


def _table(database: Path, name: str) -> pl.DataFrame:
    with duckdb.connect(str(database), read_only=True) as conn:
        return conn.execute(f"SELECT * FROM {name}").pl()


def _build_all(database: Path, encoder: HashEncoder) -> dict:
    resources = _resources(database, encoder)
    for month in TINY_MONTHS:
        _run(resources, [customer_monthly_sales], partition_key=month)
    _run(resources, [store_affiliation, customer_features, sku_features])
    return resources


@pytest.fixture(scope="module")
def feature_db(raw_tiny_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("features") / "tiny.duckdb"
    target.write_bytes(raw_tiny_db.read_bytes())
    _build_all(target, HashEncoder())
    return target


def _assert_float_features(df: pl.DataFrame, keys: tuple[str, ...]) -> None:
    assert df.columns[: len(keys)] == list(keys)
    features = df.drop(keys)
    assert features.width > 0
    assert all(dtype == pl.Float64 for dtype in features.dtypes)
    assert features.null_count().sum_horizontal().item() == 0
    assert np.isfinite(features.to_numpy()).all()


def test_customer_feature_contract(feature_db: Path) -> None:
    customers = _table(feature_db, "customers")
    features = _table(feature_db, "customer_features")
    _assert_float_features(features, ("customer_id",))
    assert sorted(features["customer_id"]) == sorted(customers["customer_id"])
    stats = _table(feature_db, "feature_standardization")
    assert {"feature", "mean", "std"} <= set(stats.columns)
    assert stats["feature"].n_unique() == stats.height  # names unique across both tables
    assert set(features.columns[1:]) <= set(stats["feature"])
    # freshly fit: mean 0 everywhere (imputed values sit at the mean); std 1 for every
    # non-constant feature that needed no imputation (the storeless customers' means did)
    np.testing.assert_allclose(features.drop("customer_id").mean().row(0), 0.0, atol=1e-9)
    imputable = ("mean_", "avg_unit_price")
    moving = [c for c in features.columns[1:]
              if features[c].std(ddof=0) > 1e-12 and not c.startswith(imputable)]
    np.testing.assert_allclose(features.select(moving).std(ddof=0).row(0), 1.0, atol=1e-9)
    assert {"g_population", "mean_median_income", "storeless", "units_roll_mean_w3",
            "units_fft_amp_1", "units_trend", "business_scale"} <= set(features.columns)


def test_category_feature_contract(feature_db: Path) -> None:
    cat = _table(feature_db, "customer_category_features")
    _assert_float_features(cat, ("customer_id", "primary_category"))
    n_customers = _table(feature_db, "customers").height
    n_categories = _table(feature_db, "skus")["primary_category"].n_unique()
    assert cat.height == n_customers * n_categories


def test_sku_feature_contract(feature_db: Path) -> None:
    skus = _table(feature_db, "skus")
    features = _table(feature_db, "sku_features")
    _assert_float_features(features, ("sku_id",))
    assert features["sku_id"].to_list() == skus["sku_id"].to_list()
    assert {"style_pc_1", "list_price"} <= set(features.columns)
    for level in skus["primary_category"].unique():  # few levels: one-hot
        column = "primary_category__" + level.lower().replace(" & ", "_").replace(" ", "_")
        assert features[column].to_list() == (skus["primary_category"] == level).cast(
            pl.Float64).to_list()


def test_affiliation_reports_every_store_and_customer(feature_db: Path) -> None:
    table = _table(feature_db, "store_affiliation")
    stores = _table(feature_db, "stores")
    assert set(table["store_id"]) == set(stores["store_id"])
    uncovered = table.filter(~pl.col("covered"))
    assert uncovered["customer_id"].null_count() == uncovered.height
    covered = table.filter(pl.col("covered"))
    sums = covered.group_by("store_id").agg(pl.col("weight").sum())
    np.testing.assert_allclose(sums["weight"], 1.0, rtol=1e-9)
    demographics = _table(feature_db, "customer_demographics")
    assert demographics.height == _table(feature_db, "customers").height


def test_monthly_sales_match_shipments(feature_db: Path) -> None:
    monthly = _table(feature_db, "customer_monthly_sales")
    ship = _table(feature_db, "shipments")
    assert monthly["units"].sum() == pytest.approx(float(ship["units"].sum()))
    assert sorted(monthly["month"].unique().cast(pl.String)) == TINY_MONTHS


def test_rerun_reuses_embeddings_and_standardization(feature_db: Path, tmp_path: Path) -> None:
    database = tmp_path / "again.duckdb"
    database.write_bytes(feature_db.read_bytes())
    encoder = HashEncoder()
    resources = _resources(database, encoder)
    before = _table(database, "customer_features")
    _run(resources, [customer_features, sku_features])
    assert encoder.calls == []  # every text came from the embedding cache
    after = _table(database, "customer_features")
    assert after.equals(before)


def test_priors_drive_exclusive_stores(feature_db: Path, tmp_path: Path) -> None:
    database = tmp_path / "priors.duckdb"
    database.write_bytes(feature_db.read_bytes())
    ids = _table(database, "customers")["customer_id"].to_list()
    priors = pl.DataFrame({"customer_id": ids, "price_sensitivity": [0.0, 1.0] * (len(ids) // 2),
                           "scale_band": ["large", "small"] * (len(ids) // 2)})
    with duckdb.connect(str(database)) as conn:
        conn.register("priors_frame", priors)
        conn.execute("CREATE TABLE customer_priors AS SELECT * FROM priors_frame")
    _run(_resources(database, HashEncoder()), [store_affiliation],
         run_config=dg.RunConfig({"store_affiliation": {"config": {"theta": 0.3}}}))
    table = _table(database, "store_affiliation")
    assert table["exclusive"].sum() > 0
    winners = table.filter(pl.col("exclusive"))["store_id"]
    assert winners.n_unique() == winners.len()  # one exclusive owner per store


def test_a_new_month_refits_only_once_the_data_grew_enough(tiny_db_copy: Path) -> None:
    resources = _resources(tiny_db_copy, HashEncoder())
    for month in TINY_MONTHS[:2]:
        _run(resources, [customer_monthly_sales], partition_key=month)
    _run(resources, [store_affiliation, customer_features])
    fitted = _table(tiny_db_copy, "feature_standardization")

    def add_month_and_rebuild(month: str, growth: float) -> str:
        _run(resources, [customer_monthly_sales], partition_key=month)
        config = dg.RunConfig({"customer_features": {"config": {"refit_growth": growth}}})
        result = dg.materialize([*raw_tables, shipments, *FEATURE_ASSETS], resources=resources,
                                selection=[customer_features], run_config=config)
        event = next(e for e in result.get_asset_materialization_events()
                     if e.asset_key == dg.AssetKey("feature_standardization"))
        return str(event.materialization.metadata["standardization"].value)

    assert add_month_and_rebuild(TINY_MONTHS[2], growth=10.0).startswith("reused")
    assert _table(tiny_db_copy, "feature_standardization").equals(fitted)
    assert add_month_and_rebuild(TINY_MONTHS[2], growth=0.25).startswith("refit")
    assert _table(tiny_db_copy, "customer_monthly_sales")["month"].n_unique() == 3
