"""The code location loads, validates, and keeps the simulator's truth away from learners."""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

ROOT = Path(__file__).resolve().parents[1]


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
