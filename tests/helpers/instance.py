"""A throwaway Dagster instance on the tiny world, for tests that start real Dagster processes."""

import os
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def tiny_instance_env(folder: Path) -> dict[str, str]:
    """Environment for `dagster` / `pipelines.cli` subprocesses: the project's dagster.yaml
    (its `duckdb` pool), the tiny preset, and every file under `folder`."""
    home = folder / "dagster_home"
    home.mkdir(exist_ok=True)
    shutil.copy(ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    return {**os.environ, "DAGSTER_HOME": str(home), "DEEPRULE_PRESET": "tiny",
            "PYTHONPATH": str(ROOT), "DEEPRULE_DATA_HOME": str(folder / "data"),
            "DEEPRULE_DUCKDB_PATH": str(folder / "warehouse.duckdb"),
            "MLFLOW_TRACKING_URI": f"sqlite:///{folder / 'mlflow.db'}"}


def in_process_config(folder: Path) -> Path:
    """Run config for `dagster asset materialize`: every step in the run's one process."""
    path = folder / "in_process.yaml"
    path.write_text("execution:\n  config:\n    in_process: {}\n")
    return path
