"""The `make run` driver end to end on the tiny world, in its own Dagster instance."""

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_cli_run_materializes_everything_and_reruns_idempotently(tmp_path: Path) -> None:
    database = tmp_path / "cli.duckdb"
    env = {
        **os.environ, "DAGSTER_HOME": str(tmp_path), "DEEPRULE_PRESET": "tiny",
        "DEEPRULE_DATA_HOME": str(tmp_path / "data"), "DEEPRULE_DUCKDB_PATH": str(database),
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
        "DEEPRULE_LLM_TOKEN_BUDGET": "3000",  # a few documents: the rest stay pending
    }
    command = [sys.executable, "-m", "pipelines.cli", "run"]
    counts = []
    for _ in range(2):
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=1800)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        with duckdb.connect(str(database), read_only=True) as conn:
            counts.append(conn.execute(
                "SELECT (SELECT count(*) FROM shipments), (SELECT count(*) FROM customers), "
                "(SELECT count(*) FROM customer_priors)"
            ).fetchone())
    assert counts[0] == counts[1] and counts[0][0] > 0
    assert counts[0][2] == counts[0][1], "every customer has a prior row, extracted or not"
