"""Runs of `pipelines.cli` that died without ending: mark them failed, free their slots.

The CLI executes jobs in its own process (`execute_in_process`). If that process is
killed (kill -9, OOM, a closed laptop), its run stays STARTED in the instance and the
`duckdb` pool slot its step held is never given back, so the next run waits for that
slot forever. Dagster's daemon only reclaims slots of runs that have ended, and only
for runs it launched. Each CLI run is tagged with its host and pid; before running,
the CLI ends the runs whose process is gone and frees what they held.
"""

from __future__ import annotations

import os
import socket

import dagster as dg
from dagster._core.storage.dagster_run import NOT_FINISHED_STATUSES

PID_TAG = "deeprule/pid"
HOST_TAG = "deeprule/host"


def owner_tags() -> dict[str, str]:
    """Tags naming this process, so a later run can tell whether it is still alive."""
    return {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _orphaned(run: dg.DagsterRun) -> bool:
    """Started by a CLI (on this host: the query filters on it) whose process is gone."""
    return PID_TAG in run.tags and not _alive(int(run.tags[PID_TAG]))


def reclaim_orphaned_runs(instance: dg.DagsterInstance) -> list[str]:
    """Fail every unfinished CLI run whose process died and free its pool slots."""
    runs = instance.get_runs(filters=dg.RunsFilter(statuses=NOT_FINISHED_STATUSES,
                                                    tags={HOST_TAG: socket.gethostname()}))
    reclaimed = []
    for run in filter(_orphaned, runs):
        instance.report_run_failed(
            run, message=f"process {run.tags[PID_TAG]} ended without finishing this run "
                         "(killed?); marked failed by the next `pipelines.cli run`")
        if instance.event_log_storage.supports_global_concurrency_limits:
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        reclaimed.append(run.run_id)
    return reclaimed
