"""The data's own calendar, the data inbox sensor, the daily rebuild and the eager graph.

Sensors and schedules are evaluated directly on an in-memory instance, the way the
daemon would; the loads they request are then materialized in-process.
"""

from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from assets.partitions import MONTHS, registered_months
from assets.raw import FINGERPRINT, raw_tables, shipments
from pipelines.definitions import defs
from resources.world import WorldResource
from tests.helpers.warehouse import export_world, tiny_resources

SHIFTED = ["2022-01-01", "2022-02-01", "2022-03-01"]  # the tiny preset's months, 2 years back


def _tick(instance: dg.DagsterInstance, world: WorldResource, cursor: str | None = None):
    """One evaluation of `data_inbox`, its new partitions applied as the daemon would."""
    sensor = defs.resolve_sensor_def("data_inbox")
    context = dg.build_sensor_context(instance=instance, cursor=cursor,
                                      resources={"world": world})
    result = sensor(context)
    for request in result.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return result


@pytest.fixture()
def inbox(tmp_path: Path) -> Path:
    """The tiny world exported as user files with every month moved two years back."""
    folder = tmp_path / "inbox"
    export_world(folder, shift="-2y")
    return folder


def test_user_months_that_are_not_the_presets_load_every_row_or_name_it(
    inbox: Path, tmp_path: Path,
) -> None:
    extra = pl.read_parquet(inbox / "shipments" / "2022-01.parquet").head(4).with_columns(
        pl.Series("month", ["2019-07-01", "2019-07-01", "2019-07-01", "2019-07-15"]).str.to_date(),
        pl.Series("customer_id", ["C0001", "NOBODY", "C0002", "C0003"]),
    ).with_columns(pl.when(pl.col("customer_id") == "C0002")
                   .then(pl.col("revenue") * 10).otherwise(pl.col("revenue")).alias("revenue"))
    extra.write_parquet(inbox / "shipments" / "late-arrivals.parquet")
    instance = dg.DagsterInstance.ephemeral()
    resources = tiny_resources(tmp_path / "byod.duckdb", data_folder=str(inbox))

    first = _tick(instance, resources["world"])
    assert registered_months(instance) == ["2019-07-01", *SHIFTED]
    month_runs = [r.partition_key for r in first.run_requests if r.partition_key]
    assert month_runs == ["2019-07-01", *SHIFTED]

    assert dg.materialize(raw_tables, resources=resources, instance=instance).success
    for key in month_runs:
        assert dg.materialize([shipments], resources=resources, instance=instance,
                              partition_key=key).success

    with duckdb.connect(str(tmp_path / "byod.duckdb"), read_only=True) as conn:
        loaded = conn.execute("SELECT count(*) FROM shipments").fetchone()[0]
        refused = conn.execute(
            "SELECT partition_key, column_name, reason FROM quarantine "
            "WHERE table_name = 'shipments' ORDER BY partition_key, column_name").fetchall()
    files = sum(pl.read_parquet(p).height for p in (inbox / "shipments").iterdir())
    assert loaded + len(refused) == files
    assert [(p, c) for p, c, _ in refused] == [
        ("2019-07-01", "customer_id"), ("2019-07-01", "revenue"), ("__unassigned__", "month")]
    assert "NOBODY" in refused[0][2] and "units * unit_price" in refused[1][2]


def test_a_dropped_document_file_requests_exactly_one_run(inbox: Path) -> None:
    instance = dg.DagsterInstance.ephemeral()
    world = WorldResource(preset="tiny", data_folder=str(inbox))
    first = _tick(instance, world)
    assert len(first.run_requests) == 1 + len(SHIFTED)  # the entities, then each month
    assert _tick(instance, world, first.cursor).run_requests == []

    new_doc = pl.read_parquet(inbox / "raw_documents.parquet").head(1).with_columns(
        pl.lit("D-NEW").alias("doc_id"))
    (inbox / "raw_documents").mkdir()
    new_doc.write_parquet(inbox / "raw_documents" / "2026-12-03.parquet")
    (inbox / "customers.csv").touch()  # a new mtime, the same content: no change

    dropped = _tick(instance, world, first.cursor)
    assert len(dropped.run_requests) == 1
    assert dropped.run_requests[0].asset_selection == [dg.AssetKey("raw_documents")]
    assert _tick(instance, world, dropped.cursor).run_requests == []


def _report_loaded(instance: dg.DagsterInstance, world: WorldResource) -> None:
    """Record every raw table and month as materialized from the current source."""
    for table in ("customers", "stores", "skus", "raw_documents"):
        instance.report_runless_asset_event(dg.AssetMaterialization(table))
    for month, fingerprint in world.month_fingerprints().items():
        instance.report_runless_asset_event(dg.AssetMaterialization(
            "shipments", partition=month.isoformat(), metadata={FINGERPRINT: fingerprint}))


def _rebuild(instance: dg.DagsterInstance, world: WorldResource):
    schedule = defs.resolve_schedule_def("daily_rebuild")
    return schedule(dg.build_schedule_context(instance=instance, resources={"world": world}))


def test_daily_rebuild_reloads_only_the_month_whose_file_changed(inbox: Path) -> None:
    with dg.instance_for_test() as instance:  # a schedule context needs a persistent instance
        _check_daily_rebuild(instance, inbox)


def _check_daily_rebuild(instance: dg.DagsterInstance, inbox: Path) -> None:
    world = WorldResource(preset="tiny", data_folder=str(inbox))
    instance.add_dynamic_partitions(MONTHS, SHIFTED)
    assert isinstance(_rebuild(instance, world), dg.SkipReason)  # entities never loaded

    _report_loaded(instance, world)
    assert isinstance(_rebuild(instance, world), dg.SkipReason)  # nothing stale

    path = inbox / "shipments" / "2022-02.parquet"
    pl.read_parquet(path).head(10).write_parquet(path)  # the month's file was replaced
    requests = _rebuild(instance, world)
    assert [r.partition_key for r in requests] == ["2022-02-01"]


def test_an_updated_month_rebuilds_exactly_what_depends_on_it() -> None:
    """Eager conditions: nothing runs while inputs are unchanged; a new month of shipments
    requests its descendants (models retrain), never the assets that do not read it."""
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(MONTHS, SHIFTED)
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        partitions = SHIFTED if graph.get(key).partitions_def else [None]
        for partition in partitions:
            instance.report_runless_asset_event(dg.AssetMaterialization(key, partition=partition))
    quiet = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    assert quiet.total_requested == 0

    instance.report_runless_asset_event(dg.AssetMaterialization("shipments", partition=SHIFTED[1]))
    requested = _run_daemon(instance, quiet.cursor)
    expected = dg.AssetSelection.assets("shipments").downstream(include_self=False).resolve(graph)
    assert sorted(requested) == sorted(expected), set(requested) ^ expected  # each exactly once
    assert dg.AssetKey("store_affiliation") not in requested
    assert dg.AssetKey("demand_model") in requested


def _run_daemon(instance: dg.DagsterInstance, cursor) -> list[dg.AssetKey]:
    """Tick until nothing is requested, materializing what each tick requests (in memory)."""
    requested: list[dg.AssetKey] = []
    order = defs.resolve_asset_graph().toposorted_asset_keys  # a run's order
    for _ in range(20):
        tick = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=cursor)
        cursor = tick.cursor
        if not tick.total_requested:
            return requested
        for key in (k for k in order if tick.get_num_requested(k)):
            for partition in tick.get_requested_partitions(key):
                instance.report_runless_asset_event(
                    dg.AssetMaterialization(key, partition=partition))
            requested.append(key)
    raise AssertionError("the automation never settled")
