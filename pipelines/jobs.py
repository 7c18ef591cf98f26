"""Jobs and schedules: monthly ingestion of partitioned assets, daily rebuild of the rest.

Assets with different partitioning cannot share a run, so the graph is split:
the unpartitioned raw entities (which monthly assets join against), the
monthly-partitioned part, and everything derived from both.
"""

from collections.abc import Sequence

import dagster as dg

from assets.partitions import monthly_partitions

ENTITIES_JOB = "raw_entities_job"
MONTHLY_JOB = "monthly_ingest_job"
DERIVED_JOB = "derived_job"
REBUILD_JOB = "rebuild_job"
ENTITY_GROUPS = ("raw", "simulator")


def _monthly_keys(assets: Sequence[dg.AssetsDefinition]) -> list[dg.AssetKey]:
    return [
        key for a in assets if a.partitions_def == monthly_partitions for key in a.keys
    ]


def build_jobs(assets: Sequence[dg.AssetsDefinition]) -> list:
    """The monthly job (one partition per run) and the unpartitioned rebuild job."""
    monthly = dg.AssetSelection.assets(*_monthly_keys(assets))
    entities = dg.AssetSelection.groups(*ENTITY_GROUPS) - monthly
    return [
        dg.define_asset_job(
            ENTITIES_JOB, selection=entities,
            description="Load the unpartitioned raw tables and the simulator's truth.",
        ),
        dg.define_asset_job(
            MONTHLY_JOB, selection=monthly, partitions_def=monthly_partitions,
            description="Load one month of shipments (and what is partitioned with it).",
        ),
        dg.define_asset_job(
            REBUILD_JOB, selection=dg.AssetSelection.all() - monthly,
            description="Rebuild every unpartitioned asset, raw entities included.",
        ),
        dg.define_asset_job(
            DERIVED_JOB, selection=dg.AssetSelection.all() - monthly - entities,
            description="Rebuild everything derived from the raw tables (not the raw tables).",
        ),
    ]


def build_schedules(jobs: Sequence) -> list:
    """Monthly ingestion when a month closes; a daily rebuild at 02:00 (both off by default)."""
    by_name = {job.name: job for job in jobs}
    return [
        dg.build_schedule_from_partitioned_job(by_name[MONTHLY_JOB], hour_of_day=1),
        dg.ScheduleDefinition(
            name="daily_rebuild", job=by_name[REBUILD_JOB], cron_schedule="0 2 * * *",
        ),
    ]
