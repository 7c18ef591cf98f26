"""Search iterations are recorded as they finish: DuckDB rows (never twice) and MLflow steps."""

from dataclasses import replace
from pathlib import Path

import duckdb
from dagster_duckdb import DuckDBResource

from assets._iterations import TABLE, IterationRecorder
from deeprule.models.registry import TrackedRun, tracking_client
from deeprule.search.reflect import Iteration


def _iteration(number: int, status: str, fitness: float | None) -> Iteration:
    return Iteration(number, status, "rule", fitness, 10.0 * number, 0, None, "note",
                     prompt_tokens=100, completion_tokens=20, seconds=1.5)


def test_iterations_land_in_duckdb_once_and_in_mlflow_by_step(tmp_path: Path) -> None:
    database = tmp_path / "w.duckdb"
    client = tracking_client(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.create_experiment("search")
    tracked = TrackedRun(client, client.create_run(experiment).info.run_id)
    record = IterationRecorder(DuckDBResource(database=str(database)), tracked, "llm", "k1")
    steps = [_iteration(0, "expert", 1.0), _iteration(1, "improved", 2.0),
             _iteration(2, "kept", 1.5), _iteration(3, "failed", None)]
    for step in steps:
        record(step)
    record(steps[2])  # a resumed run finishing iteration 2 again replaces it
    with duckdb.connect(str(database), read_only=True) as conn:
        rows = conn.execute(f"SELECT number, status, best_fitness FROM {TABLE} "
                            "ORDER BY number").fetchall()
    assert rows == [(0, "expert", 1.0), (1, "improved", 2.0), (2, "kept", 2.0),
                    (3, "failed", 2.0)]
    history = client.get_metric_history(tracked.run_id, "best_fitness")
    assert sorted({m.step for m in history}) == [0, 1, 2, 3]
    fitness = client.get_metric_history(tracked.run_id, "fitness")
    assert sorted(m.step for m in fitness) == [0, 1, 2, 2]  # none for the failed one


def test_a_table_of_an_older_version_gains_the_new_columns(tmp_path: Path) -> None:
    database = tmp_path / "w.duckdb"
    with duckdb.connect(str(database)) as conn:  # as written before iterations had llm_calls
        conn.execute(f"CREATE TABLE {TABLE} (search_key VARCHAR, searcher VARCHAR, "
                     "mlflow_run_id VARCHAR, number BIGINT, status VARCHAR)")
        conn.execute(f"INSERT INTO {TABLE} VALUES ('k0', 'llm', 'r0', 0, 'expert')")
    client = tracking_client(f"sqlite:///{tmp_path / 'mlflow.db'}")
    tracked = TrackedRun(client, client.create_run(client.create_experiment("s")).info.run_id)
    record = IterationRecorder(DuckDBResource(database=str(database)), tracked, "llm", "k1")
    record(replace(_iteration(1, "improved", 2.0), llm_calls=2))
    with duckdb.connect(str(database), read_only=True) as conn:
        rows = conn.execute(f"SELECT search_key, llm_calls FROM {TABLE} ORDER BY number"
                            ).fetchall()
    assert rows == [("k0", None), ("k1", 2)]
