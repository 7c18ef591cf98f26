"""A tiny world materialized into a throwaway DuckDB file, through Dagster.

Imported by the asset tests only: the domain tests run without Dagster.
"""

from pathlib import Path

import dagster as dg
import polars as pl

from assets.partitions import MONTHS
from deeprule.synth import build_world, resolve_spec
from resources import default_resources
from resources.world import WorldResource

TINY_MONTHS = ["2024-01-01", "2024-02-01", "2024-03-01"]


_LIVE: list[dg.DagsterInstance] = []


def month_instance(months: list[str] = TINY_MONTHS) -> dg.DagsterInstance:
    """An in-memory instance with `months` registered as monthly partitions.

    Kept alive for the session: a materialize result reaches its instance through a weak
    reference, so an instance created inline would be gone when the result is read.
    """
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(MONTHS, months)
    _LIVE.append(instance)
    return instance


def tiny_resources(database: Path, **world_config: object) -> dict:
    """All default resources, on the `tiny` preset and a DuckDB file of the test's own."""
    resources = default_resources(str(database))
    resources["world"] = WorldResource(preset="tiny", **world_config)
    return resources


def materialize_raw(database: Path, **world_config: object) -> dict:
    """Materialize every raw asset (all tiny months) into `database`; return the resources."""
    from assets.raw import expenses, raw_tables, shipments

    resources = tiny_resources(database, **world_config)
    result = dg.materialize(raw_tables, resources=resources)
    assert result.success
    instance = month_instance()
    for month in TINY_MONTHS:
        assert dg.materialize([shipments, expenses], resources=resources, partition_key=month,
                              instance=instance).success
    return resources


def export_world(folder: Path, shift: str = "") -> None:
    """The tiny world as user files: CSV for customers, Parquet for the other entities, one
    Parquet per month of shipments; `shift` (a polars offset like "-2y") moves every month."""
    world = build_world(resolve_spec("tiny"))
    folder.mkdir()
    world.customers().write_csv(folder / "customers.csv")
    world.stores().write_parquet(folder / "stores.parquet")
    world.skus().write_parquet(folder / "skus.parquet")
    world.documents().write_parquet(folder / "raw_documents.parquet")
    (folder / "shipments").mkdir()
    for month in world.spec.months:
        rows = world.shipments(month)
        if shift:
            rows = rows.with_columns(pl.col("month").dt.offset_by(shift))
        rows.write_parquet(folder / "shipments" / f"{rows['month'][0]:%Y-%m}.parquet")
