"""Document facts as features: computed from a hand-built priors frame (no LLM)."""

from datetime import date

import numpy as np
import polars as pl
import pytest

from deeprule.features.documents import DOC_COLUMNS, with_document_columns
from deeprule.models.frames import SourceTables
from deeprule.models.matrix import fit_spec, training_frame
from tests.helpers.document_priors import priors_frame, two_customer_priors

JAN, FEB, MAR = date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 1)


def _rows(skus: pl.DataFrame, pairs: list[tuple[str, str, date]]) -> pl.DataFrame:
    customers, sku_ids, months = zip(*pairs, strict=True)
    return pl.DataFrame({"customer_id": customers, "sku_id": sku_ids, "month": months}).join(
        skus.select("sku_id", "primary_category"), on="sku_id", how="left",
        maintain_order="left")


def test_each_fact_lands_on_its_customer_category_brand_and_month(tiny_world) -> None:
    skus = tiny_world.skus()
    # SKU0001 Oral Care/Fenwick, SKU0002 Laundry/Dorian, SKU0004 Hair Care/Elvaris
    rows = _rows(skus, [("C0001", "SKU0001", JAN), ("C0001", "SKU0002", JAN),
                        ("C0001", "SKU0004", JAN), ("C0001", "SKU0004", FEB),
                        ("C0002", "SKU0002", MAR)])
    out = with_document_columns(rows, two_customer_priors(["C0001", "C0002"]), skus)
    assert out.select("customer_id", "sku_id", "month").equals(
        rows.select("customer_id", "sku_id", "month"))
    got = {c: out[c].to_list() for c in DOC_COLUMNS}
    assert got["doc_sensitivity"] == [-1.0, 1.0, 0.0, 0.0, 0.0]
    assert got["doc_sensitivity_stated"] == [1.0, 1.0, 0.0, 0.0, 0.0]
    assert got["doc_in_scope"] == [1.0, 1.0, 0.0, 0.0, 0.0]
    assert got["doc_announced_now"] == [0.0, 0.0, 0.0, 1.0, 0.0]  # Hair Care from February
    assert got["doc_announced_later"] == [0.0, 0.0, 1.0, 0.0, 0.0]
    assert got["doc_brand_wanted"] == [1.0, 0.0, 0.0, 0.0, 0.0]  # Fenwick
    assert got["doc_discount_ceiling"] == [0.12] * 4 + [0.0]
    assert got["doc_ceiling_stated"] == [1.0] * 4 + [0.0]
    assert got["doc_locked"] == [0.0, 1.0, 0.0, 0.0, 0.0]
    assert got["doc_has_documents"] == [1.0] * 4 + [0.0]


def test_a_customer_unknown_to_the_priors_gets_zeros_not_nulls(tiny_world) -> None:
    skus = tiny_world.skus()
    rows = _rows(skus, [("C0099", "SKU0001", JAN)])
    out = with_document_columns(rows, two_customer_priors(["C0001", "C0002"]), skus)
    assert out.select(DOC_COLUMNS).null_count().sum_horizontal().item() == 0
    assert out.select(DOC_COLUMNS).sum_horizontal().item() == 0.0


def test_rows_without_keys_are_refused(tiny_world) -> None:
    with pytest.raises(ValueError, match="primary_category"):
        with_document_columns(pl.DataFrame({"customer_id": ["C0001"], "sku_id": ["SKU0001"],
                                            "month": [JAN]}),
                              two_customer_priors(["C0001"]), tiny_world.skus())


def test_the_model_inputs_carry_standardized_document_features(tiny_tables, tiny_world) -> None:
    ids = tiny_world.customers()["customer_id"].to_list()
    tables = SourceTables(tiny_tables.shipments, tiny_tables.skus,
                          customer_priors=two_customer_priors(ids))
    months = sorted(tiny_tables.shipments["month"].unique().to_list())
    spec = fit_spec(tables, months[:1])
    assert set(DOC_COLUMNS) <= set(spec.high_columns)
    train = tiny_tables.shipments.filter(pl.col("month") == months[0])
    first = train["customer_id"] == ids[0]
    share = float(first.mean())
    mean, std = spec.zscore["doc_has_documents"]
    assert mean == pytest.approx(share) and std == pytest.approx(float(first.std()))
    frame = training_frame(tables, spec, months[:1])
    column = frame.high[:, spec.high_columns.index("doc_has_documents")]
    assert np.allclose(column, (frame.column("doc_has_documents") - mean) / std, atol=1e-5)
    plain = fit_spec(tiny_tables, months[:1])
    assert not set(DOC_COLUMNS) & set(plain.high_columns)


def test_point_in_time_priors_join_as_of_the_row_month(tiny_world) -> None:
    skus = tiny_world.skus()
    known = two_customer_priors(["C0001"]).with_columns(as_of=pl.lit(FEB))
    unknown = priors_frame([{"customer_id": "C0001"}]).with_columns(as_of=pl.lit(JAN))
    snapshots = pl.concat([unknown, known])
    december = date(2023, 12, 1)  # before the first snapshot: no document known yet
    rows = _rows(skus, [("C0001", "SKU0002", JAN), ("C0001", "SKU0002", FEB),
                        ("C0001", "SKU0002", MAR), ("C0001", "SKU0002", december)])
    out = with_document_columns(rows, snapshots, skus)
    assert out["doc_has_documents"].to_list() == [0.0, 1.0, 1.0, 0.0]  # March reads February's
    assert out["doc_discount_ceiling"].to_list() == [0.0, 0.12, 0.12, 0.0]
    assert out["doc_locked"].to_list() == [0.0, 1.0, 1.0, 0.0]
