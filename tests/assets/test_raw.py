"""Raw assets in-process on a throwaway DuckDB: generated world and bring-your-own-data."""

from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from assets.raw import expenses, raw_checks, raw_tables, shipments
from deeprule.synth import build_world
from deeprule.synth.spec import resolve_spec
from tests.helpers.warehouse import TINY_MONTHS, tiny_resources


def _query(database: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(database), read_only=True) as conn:
        return conn.execute(sql).fetchall()


def test_generated_raw_tables_land_in_duckdb(raw_tiny_db: Path) -> None:
    spec = resolve_spec("tiny")
    counts = dict(_query(raw_tiny_db, """
        SELECT 'customers', count(*) FROM customers UNION ALL
        SELECT 'stores', count(*) FROM stores UNION ALL
        SELECT 'skus', count(*) FROM skus UNION ALL
        SELECT 'raw_documents', count(*) FROM raw_documents UNION ALL
        SELECT 'months', count(DISTINCT month) FROM shipments"""))
    assert counts["customers"] == spec.n_customers
    assert counts["stores"] == spec.n_stores
    assert counts["skus"] == spec.n_skus
    assert counts["raw_documents"] > 0
    assert counts["months"] == len(TINY_MONTHS)


def test_raw_asset_checks_pass_on_generated_world(tiny_db_copy: Path) -> None:
    resources = tiny_resources(tiny_db_copy)
    for check in raw_checks:
        spec = next(iter(check.check_specs))
        outcome = dg.materialize(
            [*raw_tables, shipments, expenses, check], resources=resources,
            selection=dg.AssetSelection.checks(check),
        )
        evaluation = outcome.get_asset_check_evaluations()[0]
        assert evaluation.passed, (spec.name, evaluation.metadata)


def test_month_rerun_replaces_rows_instead_of_duplicating(tiny_db_copy: Path) -> None:
    resources = tiny_resources(tiny_db_copy)
    sql = "SELECT count(*) FROM shipments WHERE month = DATE '2024-02-01'"
    before = _query(tiny_db_copy, sql)[0][0]
    assert dg.materialize([shipments], resources=resources, partition_key="2024-02-01").success
    assert _query(tiny_db_copy, sql)[0][0] == before > 0
    assert _query(tiny_db_copy, "SELECT count(*) FROM shipments")[0][0] > before


def _export_world(folder: Path) -> None:
    """The tiny world as user files: CSV for entities, one Parquet per month of shipments."""
    world = build_world(resolve_spec("tiny"))
    folder.mkdir()
    world.customers().write_csv(folder / "customers.csv")
    world.stores().write_parquet(folder / "stores.parquet")
    world.skus().write_parquet(folder / "skus.parquet")
    world.documents().write_parquet(folder / "raw_documents.parquet")
    (folder / "shipments").mkdir()
    for month in world.spec.months:
        world.shipments(month).write_parquet(folder / "shipments" / f"{month:%Y-%m}.parquet")


def _corrupt_csv_row(path: Path, row: int, column: str, value: str) -> None:
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    cells = lines[row].split(",")
    cells[header.index(column)] = value
    lines[row] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")


def test_corrupted_user_csv_is_quarantined_and_rerun_is_idempotent(tmp_path: Path) -> None:
    folder = tmp_path / "mydata"
    _export_world(folder)
    _corrupt_csv_row(folder / "customers.csv", 3, "latitude", "123.4")
    database = tmp_path / "byod.duckdb"
    resources = tiny_resources(database, data_folder=str(folder))

    for _ in range(2):  # the second run must not duplicate quarantine rows
        assert dg.materialize(raw_tables, resources=resources).success

    rows = _query(database, "SELECT source_file, source_row, column_name, reason FROM quarantine")
    assert rows == [("customers.csv", 3, "latitude", "value '123.4' above maximum 90")]
    n_customers = _query(database, "SELECT count(*) FROM customers")[0][0]
    assert n_customers == resolve_spec("tiny").n_customers - 1

    quarantine_check = next(
        c for c in raw_checks
        if next(iter(c.check_specs)).name == "nothing_quarantined"
        and next(iter(c.check_specs)).asset_key == dg.AssetKey("customers")
    )
    outcome = dg.materialize(
        [*raw_tables, quarantine_check], resources=resources,
        selection=dg.AssetSelection.checks(quarantine_check),
    )
    evaluation = outcome.get_asset_check_evaluations()[0]
    assert not evaluation.passed


def test_strict_mode_fails_the_run_after_quarantining(tmp_path: Path) -> None:
    folder = tmp_path / "mydata"
    _export_world(folder)
    _corrupt_csv_row(folder / "customers.csv", 2, "business_scale", "lots")
    database = tmp_path / "strict.duckdb"
    resources = tiny_resources(database, data_folder=str(folder), strict=True)
    customers = next(a for a in raw_tables if a.key == dg.AssetKey("customers"))
    with pytest.raises(dg.Failure, match="1 invalid row"):
        dg.materialize([customers], resources=resources)
    assert _query(database, "SELECT count(*) FROM quarantine")[0][0] == 1


def test_user_expenses_are_optional_and_read_by_month_when_present(tmp_path: Path) -> None:
    folder = tmp_path / "mydata"
    _export_world(folder)
    database = tmp_path / "byod.duckdb"
    resources = tiny_resources(database, data_folder=str(folder))
    empty = dg.materialize([expenses], resources=resources, partition_key="2024-02-01")
    event = empty.get_asset_materialization_events()[0]
    assert event.materialization.metadata["dagster/row_count"].value == 0
    world = build_world(resolve_spec("tiny"))
    months = [world.expenses(m) for m in world.spec.months]
    pl.concat(months).write_csv(folder / "expenses.csv")
    assert dg.materialize([expenses], resources=resources, partition_key="2024-02-01").success
    assert _query(database, "SELECT count(*) FROM expenses")[0][0] == months[1].height > 0
