"""`python -m pipelines.cli run`: materialize every asset on the configured world.

Runs go through the project's Dagster instance (DAGSTER_HOME), so they appear
in `make ui`: first the raw entities, then one run per month of the
partitioned assets, then one run for everything derived from them.
"""

from __future__ import annotations

import argparse
import sys
import time

import dagster as dg

from assets.partitions import MONTHS, missing_month_keys, registered_months
from pipelines.definitions import defs
from pipelines.jobs import DERIVED_JOB, ENTITIES_JOB, MONTHLY_JOB
from pipelines.recovery import owner_tags, reclaim_orphaned_runs
from pipelines.summary import RunSummary

QUIET_CONSOLE = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
"""Progress and warnings on the terminal; every DEBUG event is still in the run's log in the UI."""


def _months(instance: dg.DagsterInstance, first: str | None, last: str | None) -> list[str]:
    """The data's months (registered as partitions first), from `first` to `last` inclusive."""
    world = defs.resources["world"].process_config_and_initialize()
    instance.add_dynamic_partitions(
        MONTHS, missing_month_keys(registered_months(instance), world.months()))
    keys = registered_months(instance)
    return [k for k in keys if (not first or k >= first) and (not last or k <= last)]


PHASES = {ENTITIES_JOB: "raw entities + truth", MONTHLY_JOB: "month", DERIVED_JOB: "derived"}


def _execute(job_name: str, instance: dg.DagsterInstance, partition_key: str | None,
             summary: RunSummary) -> bool:
    phase = PHASES[job_name] + (f" {partition_key[:7]}" if partition_key else "")
    print(f"[run] {phase}: {job_name} ...", flush=True)
    started = time.perf_counter()
    job = defs.resolve_job_def(job_name)
    result = job.execute_in_process(
        run_config=QUIET_CONSOLE, instance=instance, partition_key=partition_key,
        tags=owner_tags(), raise_on_error=False,
    )
    seconds = time.perf_counter() - started
    summary.add(phase, seconds, result)
    status = "ok" if result.success else "FAILED"
    print(f"[run] {phase}: {status} in {seconds:.1f}s (run {result.run_id})", flush=True)
    return result.success


def run(args: argparse.Namespace) -> int:
    """Entities, then months (each independent), then everything derived; then a summary."""
    instance = dg.DagsterInstance.get()
    for run_id in reclaim_orphaned_runs(instance):
        print(f"[run] run {run_id} was killed before it ended: marked failed, its slots freed",
              flush=True)
    months = _months(instance, args.first_month, args.last_month)
    print(f"[run] raw entities, {len(months)} month partition(s), then derived assets",
          flush=True)
    summary = RunSummary()
    code = _run_phases(args, instance, months, summary)
    print("\n".join(summary.lines()), flush=True)
    return code


def _run_phases(args: argparse.Namespace, instance: dg.DagsterInstance, months: list[str],
                summary: RunSummary) -> int:
    if not _execute(ENTITIES_JOB, instance, None, summary):
        return 1
    failed = [m for m in months if not _execute(MONTHLY_JOB, instance, m, summary)]
    if failed:
        print(f"months failed: {failed}; fix and rerun (reruns are idempotent)", file=sys.stderr)
        return 1
    if args.months_only:
        return 0
    return 0 if _execute(DERIVED_JOB, instance, None, summary) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="deeprule", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run_parser = sub.add_parser("run", help="materialize all assets")
    run_parser.add_argument("--first-month", help="first partition key, e.g. 2024-01-01")
    run_parser.add_argument("--last-month", help="last partition key, e.g. 2024-06-01")
    run_parser.add_argument("--months-only", action="store_true",
                            help="raw entities and monthly partitions only (a backfill)")
    args = parser.parse_args(argv)
    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
