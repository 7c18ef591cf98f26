"""The code location loads, validates, keeps the simulator's truth away from learners, and
matches its reviewed snapshot (tests/snapshots/definitions.json).

A change of lineage (an asset, dependency, group, check, job, schedule or sensor added,
removed or moved) fails `test_definitions_match_the_snapshot` until the snapshot is
rewritten with `DEEPRULE_UPDATE_SNAPSHOT=1 pytest tests/test_definitions.py`, so the change
shows up as a diff of that file in review.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

ROOT = Path(__file__).resolve().parents[1]
SNAPSHOT = ROOT / "tests" / "snapshots" / "definitions.json"


def test_dagster_definitions_validate() -> None:
    dagster = Path(sys.executable).parent / "dagster"
    env = {**os.environ, "DAGSTER_HOME": str(ROOT / "dagster_home")}
    result = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=ROOT, capture_output=True, text=True, env=env, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_only_evaluation_assets_read_simulator_truth() -> None:
    from pipelines.definitions import defs

    graph = defs.resolve_asset_graph()
    truth = {k for k in graph.get_all_asset_keys() if graph.get(k).group_name == "simulator"}
    readers = {
        child: graph.get(child).group_name
        for key in truth
        for child in graph.get(key).child_keys
    }
    cheaters = {k.to_user_string(): g for k, g in readers.items() if g != "evaluation"}
    assert not cheaters, f"non-evaluation assets read simulator truth: {cheaters}"


def test_jobs_split_monthly_and_unpartitioned_assets() -> None:
    from pipelines.definitions import defs
    from pipelines.jobs import MONTHLY_JOB, REBUILD_JOB

    monthly = defs.resolve_job_def(MONTHLY_JOB)
    rebuild = defs.resolve_job_def(REBUILD_JOB)
    assert dg.AssetKey("shipments") in monthly.asset_layer.executable_asset_keys
    assert dg.AssetKey("customers") in rebuild.asset_layer.executable_asset_keys
    assert dg.AssetKey("shipments") not in rebuild.asset_layer.executable_asset_keys


def test_only_raw_simulator_and_evaluation_assets_hold_the_world_resource() -> None:
    """The `world` resource can hand out the truth: learners must not even hold it."""
    from pipelines.definitions import defs

    graph = defs.resolve_asset_graph()
    holders = {
        key.to_user_string(): graph.get(key).group_name
        for key in graph.get_all_asset_keys()
        if graph.get(key).is_materializable
        and "world" in graph.get(key).assets_def.required_resource_keys
    }
    learners = {k: g for k, g in holders.items() if g not in {"raw", "simulator", "evaluation"}}
    assert holders and not learners, f"learners holding the world resource: {learners}"


def _names(keys) -> list[str]:
    return sorted(key.to_user_string() for key in keys)


def _definitions_snapshot() -> dict:
    """Everything about the code location a reviewer should see change (no run-time values)."""
    from pipelines.definitions import defs

    graph = defs.resolve_asset_graph()
    assets = {}
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "deps": _names(node.parent_keys),
            "kinds": sorted(node.kinds),
            "partitions": type(node.partitions_def).__name__ if node.partitions_def else None,
            "resources": sorted(node.assets_def.required_resource_keys)
            if node.is_materializable else [],
        }
    checks = {
        f"{key.asset_key.to_user_string()}:{key.name}": {
            "blocking": graph.get(key).blocking,
            "reads": _names(k for k in graph.get(key).parent_entity_keys
                            if isinstance(k, dg.AssetKey)),
        }
        for key in graph.asset_check_keys
    }
    jobs = {job.name: _names(job.asset_layer.executable_asset_keys)
            for job in defs.resolve_all_job_defs() if not job.name.startswith("__")}
    schedules = {s.name: {"job": s.job_name, "cron": s.cron_schedule,
                          "default_status": s.default_status.value}
                 for s in defs.schedules or []}
    sensors = sorted(s.name for s in defs.sensors or [])
    return {"assets": dict(sorted(assets.items())), "checks": dict(sorted(checks.items())),
            "jobs": dict(sorted(jobs.items())), "schedules": dict(sorted(schedules.items())),
            "sensors": sensors, "resources": sorted(defs.resources or {})}


def _one_line_per_entry(snapshot: dict) -> str:
    """JSON with one line per asset, check, job, schedule: a lineage change is a line's diff."""
    sections = []
    for name, value in snapshot.items():
        if isinstance(value, dict):
            entries = ",\n".join(f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in value.items())
            sections.append(f" {json.dumps(name)}: {{\n{entries}\n }}")
        else:
            sections.append(f" {json.dumps(name)}: {json.dumps(value)}")
    return "{\n" + ",\n".join(sections) + "\n}\n"


def test_definitions_match_the_snapshot() -> None:
    current = _one_line_per_entry(_definitions_snapshot())
    if os.environ.get("DEEPRULE_UPDATE_SNAPSHOT"):
        SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
        SNAPSHOT.write_text(current)
    assert SNAPSHOT.exists(), "no snapshot yet: run with DEEPRULE_UPDATE_SNAPSHOT=1"
    assert json.loads(current) == json.loads(SNAPSHOT.read_text()), (
        "the Definitions changed: review, then rewrite tests/snapshots/definitions.json with "
        "DEEPRULE_UPDATE_SNAPSHOT=1 pytest tests/test_definitions.py")
