"""Generated tables honour the raw-table data contract in deeprule/schema.py."""

import polars as pl
import pytest

from deeprule.schema import CUSTOMERS, RAW_DOCUMENTS, SHIPMENTS, SKUS, STORES, TableSchema
from deeprule.synth import World
from deeprule.synth.documents import content_hash
from deeprule.synth.vocab import PRIMARY_CATEGORIES, SECONDARY_CATEGORIES


def _frames(world: World, shipments: pl.DataFrame) -> dict[str, pl.DataFrame]:
    return {"customers": world.customers(), "stores": world.stores(), "skus": world.skus(),
            "raw_documents": world.documents(), "shipments": shipments}


def _assert_contract(df: pl.DataFrame, schema: TableSchema) -> None:
    names = schema.column_names
    assert df.columns[: len(names)] == names
    if not schema.extra_columns_allowed:
        assert df.columns == names
    for col in schema.columns:
        values = df[col.name]
        expected = col.dtype if isinstance(col.dtype, pl.DataType) else col.dtype()
        assert values.dtype == expected, col.name
        assert values.null_count() == 0, col.name
        if col.min_value is not None:
            assert values.min() >= col.min_value, col.name
        if col.max_value is not None:
            assert values.max() <= col.max_value, col.name
        if col.allowed is not None:
            assert set(values.unique()) <= set(col.allowed), col.name
    assert not df.select(schema.key).is_duplicated().any(), schema.name


@pytest.mark.parametrize("schema", [CUSTOMERS, STORES, SKUS, RAW_DOCUMENTS, SHIPMENTS],
                         ids=lambda s: s.name)
def test_table_matches_contract(
    tiny_world: World, tiny_shipments: pl.DataFrame, schema: TableSchema
) -> None:
    df = _frames(tiny_world, tiny_shipments)[schema.name]
    assert df.height > 0
    _assert_contract(df, schema)


def test_customers_carry_numeric_raw_attributes(tiny_world: World) -> None:
    df = tiny_world.customers()
    extra = df.columns[len(CUSTOMERS.columns):]
    n = tiny_world.spec.n_extra_customer_attrs
    assert extra == [f"attr_{i:02d}" for i in range(1, n + 1)]
    assert all(df[c].dtype == pl.Float64 and df[c].null_count() == 0 for c in extra)
    assert df.height == tiny_world.spec.n_customers
    assert df["name"].is_unique().all()


def test_skus_have_fifteen_attributes_and_consistent_prices(tiny_world: World) -> None:
    df = tiny_world.skus()
    assert df.width - 1 == 15  # every column but the key is an attribute
    assert (df["cost"] < df["wholesale_price"]).all()
    assert (df["wholesale_price"] < df["list_price"]).all()
    assert (df["pack_size"] >= 1).all()


def test_secondary_categories_nest_under_primaries(tiny_world: World) -> None:
    df = tiny_world.skus()
    spec = tiny_world.spec
    assert set(df["primary_category"]) <= set(PRIMARY_CATEGORIES[: spec.n_primary_categories])
    pairs = df.select("primary_category", "secondary_category").unique()
    assert pairs["secondary_category"].is_unique().all()
    for primary, secondary in pairs.iter_rows():
        assert secondary in SECONDARY_CATEGORIES[primary]


def test_style_text_mentions_colour_and_pattern(tiny_world: World) -> None:
    for text, colour, pattern in tiny_world.skus().select(
        "style_text", "color", "pattern"
    ).iter_rows():
        assert colour in text.lower() and pattern in text.lower()


def test_store_age_shares_sum_to_one(tiny_world: World) -> None:
    df = tiny_world.stores()
    total = df["share_age_under_30"] + df["share_age_30_55"] + df["share_age_over_55"]
    assert (total - 1.0).abs().max() < 1e-3


def test_stores_and_customers_share_cities(tiny_world: World) -> None:
    customer_cities = set(tiny_world.customers()["city"])
    assert customer_cities <= set(tiny_world.stores()["city"])


def test_shipment_arithmetic_and_references(
    tiny_world: World, tiny_shipments: pl.DataFrame
) -> None:
    df = tiny_shipments
    assert (df["unit_price"] - df["list_price"] * (1 - df["discount"])).abs().max() < 1e-9
    assert (df["revenue"] - df["units"] * df["unit_price"]).abs().max() < 1e-6
    assert set(df["customer_id"]) <= set(tiny_world.customers()["customer_id"])
    assert set(df["sku_id"]) <= set(tiny_world.skus()["sku_id"])
    list_prices = tiny_world.skus().select("sku_id", sku_list="list_price")
    joined = df.join(list_prices, on="sku_id")
    assert (joined["list_price"] == joined["sku_list"]).all()


def test_each_month_holds_only_its_own_rows(tiny_world: World) -> None:
    for month in tiny_world.spec.months:
        assert tiny_world.shipments(month)["month"].unique().to_list() == [month]


def test_documents_hash_title_and_text(tiny_world: World) -> None:
    for title, text, digest in tiny_world.documents().select(
        "title", "text", "content_hash"
    ).iter_rows():
        assert digest == content_hash(title, text)
        assert len(digest) == 64
