"""A tiny world materialized into a throwaway DuckDB file, through Dagster.

Imported by the asset tests only: the domain tests run without Dagster.
"""

from pathlib import Path

import dagster as dg

from resources import default_resources
from resources.world import WorldResource

TINY_MONTHS = ["2024-01-01", "2024-02-01", "2024-03-01"]


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
    for month in TINY_MONTHS:
        assert dg.materialize([shipments, expenses], resources=resources,
                              partition_key=month).success
    return resources
