"""Concurrency and crashes against the real DuckDB file and real Dagster processes.

- Two runs loading different months at the same time both succeed: the `duckdb` pool
  (dagster_home/dagster.yaml) and dagster-duckdb's connection backoff keep the one
  writer at a time, nothing is lost.
- `kill -9` of a writer mid-transaction, then of a whole `pipelines.cli run`, then a
  rerun: no partition half written, no row twice (resources/warehouse.py), and the
  killed run's pool slot is given back (pipelines/recovery.py).
"""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from deeprule.synth import build_world, resolve_spec
from tests.helpers.instance import in_process_config, tiny_instance_env

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
MONTHS = ["2024-01-01", "2024-02-01", "2024-03-01"]


def _cli(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipelines.cli", "run", *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=900)


def _shipments(tmp_path: Path) -> dict[str, tuple[int, int]]:
    """Per month: (rows, distinct keys)."""
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as conn:
        rows = conn.execute(
            "SELECT CAST(month AS VARCHAR), count(*), "
            "count(DISTINCT (customer_id, sku_id, month)) FROM shipments GROUP BY 1").fetchall()
    return {m: (n, d) for m, n, d in rows}


def _expected() -> dict[str, tuple[int, int]]:
    world = build_world(resolve_spec("tiny"))
    return {m.isoformat(): (world.shipments(m).height,) * 2 for m in world.spec.months}


@pytest.mark.slow
def test_two_runs_on_different_months_at_once_lose_nothing(tmp_path: Path) -> None:
    env = tiny_instance_env(tmp_path)
    first = _cli(env, "--months-only", "--first-month", MONTHS[0], "--last-month", MONTHS[0])
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    in_process = in_process_config(tmp_path)  # one process per run: two real writers
    runs = [subprocess.Popen(
        [str(BIN / "dagster"), "asset", "materialize", "-m", "pipelines.definitions",
         "--select", "shipments,customer_monthly_sales", "--partition", month,
         "-c", str(in_process)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for month in MONTHS[1:]]
    outputs = [run.communicate(timeout=900)[0] for run in runs]
    for run, output in zip(runs, outputs, strict=True):
        assert run.returncode == 0, output[-3000:]
        assert "Could not set lock" not in output and "RUN_FAILURE" not in output
    assert _shipments(tmp_path) == _expected()


WRITER = textwrap.dedent("""
    import sys
    from datetime import date
    import dagster as dg
    import polars as pl
    from resources.warehouse import AtomicDuckDBPolarsIOManager

    database, version, rows = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    months = dg.StaticPartitionsDefinition(["2024-02-01"])

    @dg.asset(partitions_def=months, metadata={"partition_expr": "month"})
    def big() -> pl.DataFrame:
        frame = pl.select(row=pl.int_range(rows)).with_columns(
            month=pl.lit(date(2024, 2, 1)), version=pl.lit(version))
        print("WRITING", flush=True)
        return frame

    io = AtomicDuckDBPolarsIOManager(database=database, schema="main")
    dg.materialize([big], resources={"io_manager": io}, partition_key="2024-02-01")
    print("DONE", flush=True)
""")


def _writer(database: Path, version: int, rows: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", WRITER, str(database), str(version),
                             str(rows)], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.PIPE, text=True)


def _versions(database: Path) -> list[tuple[int, int, int]]:
    with duckdb.connect(str(database), read_only=True) as conn:
        return conn.execute("SELECT version, count(*), count(DISTINCT row) FROM big "
                            "GROUP BY version").fetchall()


@pytest.mark.slow
def test_a_writer_killed_mid_transaction_leaves_the_old_partition_whole(tmp_path: Path) -> None:
    database, rows = tmp_path / "atomic.duckdb", 2_000_000
    done = _writer(database, 1, rows)
    assert "DONE" in done.communicate(timeout=600)[0]
    for delay in (0.0, 0.3, 0.8):  # the delete and the insert run after WRITING
        victim = _writer(database, 2, rows)
        assert victim.stdout.readline().strip() == "WRITING"
        time.sleep(delay)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=60)
        assert victim.returncode == -signal.SIGKILL
        (version, count, distinct), = _versions(database)  # one version, whole, each row once
        assert version in (1, 2) and count == distinct == rows
    rerun = _writer(database, 3, rows)
    assert "DONE" in rerun.communicate(timeout=600)[0]
    assert _versions(database) == [(3, rows, rows)]


@pytest.mark.slow
def test_a_killed_run_then_a_rerun_leaves_every_month_whole_and_once(tmp_path: Path) -> None:
    env = tiny_instance_env(tmp_path)
    run = subprocess.Popen([sys.executable, "-m", "pipelines.cli", "run", "--months-only"],
                           cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True)
    for line in run.stdout:  # kill it as the second month starts
        if line.startswith("[run] month 2024-02"):
            time.sleep(1.0)
            run.send_signal(signal.SIGKILL)
            break
    run.wait(timeout=60)
    assert run.returncode == -signal.SIGKILL
    partial = _shipments(tmp_path)
    assert all(partial[m] == _expected()[m] for m in partial)  # what is there is whole
    assert MONTHS[2] not in partial

    rerun = _cli(env, "--months-only")
    assert rerun.returncode == 0, rerun.stdout[-2000:] + rerun.stderr[-2000:]
    assert "was killed before it ended" in rerun.stdout  # its pool slot was given back
    assert _shipments(tmp_path) == _expected()
