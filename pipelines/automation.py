"""What runs without anyone pressing a button: the data inbox sensor and the daily rebuild.

Sources decide, the graph follows. The raw tables are (re)loaded when their source
changed: `data_inbox` watches the user's data folder (new or changed files, a cursor
of content digests) and `daily_rebuild` reloads every month whose source fingerprint
differs from the one its last materialization recorded. Everything downstream of the
raw tables carries `AutomationCondition.eager()` (pipelines/definitions.py): it runs
when an input was updated and never otherwise, so models retrain only when their
inputs changed. Declarative conditions rather than an explicit downstream job: the
asset graph already knows what depends on a month, a job list would be a second copy.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import dagster as dg

from assets.partitions import MONTHS, missing_month_keys, month_key, registered_months
from assets.raw import FINGERPRINT
from deeprule.io.inbox import changed_tables, file_months, folder_digests, stale_keys
from deeprule.schema import RAW_TABLES
from pipelines.jobs import ENTITIES_JOB, MONTHLY_JOB
from resources.world import WorldResource

ENTITY_TABLES = ("customers", "stores", "skus", "raw_documents")


def _entity_request(tables: list[str], reason: str) -> dg.RunRequest:
    return dg.RunRequest(
        run_key=f"entities:{reason}", job_name=ENTITIES_JOB,
        asset_selection=[dg.AssetKey(t) for t in sorted(tables)],
        tags={"deeprule/trigger": "data_inbox"},
    )


def _month_request(key: str, fingerprint: str, trigger: str) -> dg.RunRequest:
    return dg.RunRequest(run_key=f"{key}:{fingerprint}", job_name=MONTHLY_JOB,
                         partition_key=key, tags={"deeprule/trigger": trigger})


def inbox_requests(folder: Path, seen: dict[str, str], current: dict[str, str],
                   fingerprints: dict[str, str]) -> list[dg.RunRequest]:
    """One run for the changed entity/document files, one per month a changed monthly
    (shipments, expenses) file holds; nothing for files whose content was already seen."""
    tables = changed_tables(seen, current)
    requests = []
    entities = [t for t in tables if t in ENTITY_TABLES]
    if entities:
        changed = "\n".join(f"{p}:{current[p]}" for t in entities for p in tables[t])
        requests.append(_entity_request(entities, hashlib.sha256(changed.encode()).hexdigest()))
    monthly = [RAW_TABLES[t] for t in tables if RAW_TABLES[t].partition_column]
    months = sorted({month_key(m) for schema in monthly for p in tables[schema.name]
                     for m in file_months(folder, p, schema)})
    requests += [_month_request(k, fingerprints.get(k, "new"), "data_inbox") for k in months]
    return requests


def recorded_fingerprints(instance: dg.DagsterInstance, keys: list[str]) -> dict[str, str | None]:
    """The source fingerprint each month's latest shipments materialization recorded."""
    recorded: dict[str, str | None] = {}
    for key in keys:
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey("shipments"), asset_partitions=[key]),
            limit=1,
        ).records
        event = records[0].asset_materialization if records else None
        value = event.metadata.get(FINGERPRINT) if event else None
        recorded[key] = value.value if value is not None else None
    return recorded


def _entities_missing(instance: dg.DagsterInstance) -> list[str]:
    return [t for t in ENTITY_TABLES
            if instance.get_latest_materialization_event(dg.AssetKey(t)) is None]


def build_sensors(jobs: Sequence[dg.JobDefinition]) -> list[dg.SensorDefinition]:
    """The data inbox sensor, targeting the entity and monthly jobs (off by default)."""
    jobs = [job for job in jobs if job.name in (ENTITIES_JOB, MONTHLY_JOB)]

    @dg.sensor(
        name="data_inbox", jobs=jobs, minimum_interval_seconds=60,
        description="Registers the data's months as partitions; with a user data folder, "
        "requests a load of exactly the files that are new or changed since the last tick.",
    )
    def data_inbox(context: dg.SensorEvaluationContext, world: WorldResource) -> dg.SensorResult:
        new_keys = missing_month_keys(registered_months(context.instance), world.months())
        partitions = [dg.AddDynamicPartitionsRequest(MONTHS, new_keys)] if new_keys else []
        folder = world.user_folder()
        if folder is None:
            return dg.SensorResult(dynamic_partitions_requests=partitions,
                                   skip_reason=None if new_keys else "generated world: no inbox")
        seen = json.loads(context.cursor) if context.cursor else {}
        current = folder_digests(folder)
        fingerprints = {month_key(m): p for m, p in world.month_fingerprints().items()}
        requests = inbox_requests(folder, seen, current, fingerprints)
        return dg.SensorResult(run_requests=requests, dynamic_partitions_requests=partitions,
                               cursor=json.dumps(current, sort_keys=True))

    return [data_inbox]


def build_schedules(jobs: Sequence[dg.JobDefinition]) -> list[dg.ScheduleDefinition]:
    """`daily_rebuild` at 02:00 (off by default: `make ui`, then turn it on)."""
    monthly = next(job for job in jobs if job.name == MONTHLY_JOB)

    @dg.schedule(
        name="daily_rebuild", cron_schedule="0 2 * * *", job=monthly,
        description="Reloads only what is stale at the source: every registered month never "
        "loaded or whose files changed; the assets downstream follow by their eager "
        "automation conditions.",
    )
    def daily_rebuild(context: dg.ScheduleEvaluationContext, world: WorldResource):
        missing = _entities_missing(context.instance)
        if missing:  # months validate their references against these
            return dg.SkipReason(f"{missing} never loaded: run {ENTITIES_JOB} (or `make run`) "
                                 "once; the data_inbox sensor reloads them when files change")
        keys = registered_months(context.instance)
        current = {month_key(m): p for m, p in world.month_fingerprints().items()}
        current = {k: p for k, p in current.items() if k in keys}
        stale = stale_keys(current, recorded_fingerprints(context.instance, keys))
        if not stale:
            return dg.SkipReason("every month is loaded and its source is unchanged")
        return [_month_request(k, current[k], "daily_rebuild") for k in stale]

    return [daily_rebuild]
