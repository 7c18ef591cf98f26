"""A run whose CLI process was killed is failed and its pool slot given back."""

import subprocess
import sys
from pathlib import Path

import dagster as dg

from pipelines.recovery import HOST_TAG, PID_TAG, owner_tags, reclaim_orphaned_runs


def _dead_pid() -> int:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    return gone.pid


def _started_run(instance: dg.DagsterInstance, tags: dict[str, str]) -> dg.DagsterRun:
    run = instance.create_run_for_job(dg.GraphDefinition(name="g").to_job(), tags=tags)
    instance.handle_run_event(run.run_id, dg.DagsterEvent(
        event_type_value="PIPELINE_START", job_name=run.job_name))
    instance.event_log_storage.claim_concurrency_slot("duckdb", run.run_id, "step")
    return instance.get_run_by_id(run.run_id)


def test_a_dead_cli_run_is_failed_and_frees_its_slot_a_live_one_is_left(tmp_path: Path) -> None:
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        instance.event_log_storage.set_concurrency_slots("duckdb", 1)
        dead = _started_run(instance, {**owner_tags(), PID_TAG: str(_dead_pid())})
        live = _started_run(instance, owner_tags())
        foreign = _started_run(instance, {PID_TAG: str(_dead_pid()), HOST_TAG: "elsewhere"})

        assert reclaim_orphaned_runs(instance) == [dead.run_id]

        assert instance.get_run_by_id(dead.run_id).status == dg.DagsterRunStatus.FAILURE
        for kept in (live, foreign):
            assert instance.get_run_by_id(kept.run_id).status == dg.DagsterRunStatus.STARTED
        assert instance.event_log_storage.get_concurrency_run_ids() == {live.run_id,
                                                                          foreign.run_id}
        assert reclaim_orphaned_runs(instance) == []  # a second pass finds nothing
