"""Each search iteration recorded the moment it finishes, not when the asset returns.

A long search (an LLM iteration costs ~20 s on 2 cores) shows its progress in DuckDB
(`search_iterations`) and in its MLflow run (metrics at step = iteration) while it runs,
and a killed one leaves what it finished. Rows are keyed by the search's run key,
searcher and iteration number: a resumed or repeated run replaces its rows, never
duplicates them.
"""

from __future__ import annotations

from dataclasses import asdict

import polars as pl
from dagster_duckdb import DuckDBResource

from deeprule.io.warehouse import add_new_columns, table_exists
from deeprule.models.registry import TrackedRun
from deeprule.search.reflect import Iteration, iteration_schema

TABLE = "search_iterations"
METRICS = ("fitness", "profit", "violations", "delta", "prompt_tokens", "completion_tokens",
           "seconds", "llm_calls")
"""Iteration fields logged to MLflow (those with a value)."""


class IterationRecorder:
    """Call it with each finished iteration (the searchers' `on_iteration` hook)."""

    def __init__(self, duckdb: DuckDBResource, tracked: TrackedRun, searcher: str,
                 search_key: str) -> None:
        self.duckdb, self.tracked = duckdb, tracked
        self.keys = {"search_key": search_key, "searcher": searcher,
                     "mlflow_run_id": tracked.run_id}
        self.best: float | None = None

    def __call__(self, iteration: Iteration) -> None:
        if iteration.fitness is not None and iteration.status in ("expert", "improved"):
            self.best = iteration.fitness
        self._store(iteration)
        self._log(iteration)

    def _store(self, iteration: Iteration) -> None:
        keys = pl.DataFrame([self.keys]).with_columns(
            best_fitness=pl.lit(self.best, dtype=pl.Float64))  # None: not known yet
        row = keys.hstack(pl.DataFrame([asdict(iteration)], schema=iteration_schema()))
        with self.duckdb.get_connection() as conn:
            conn.register("finished", row.to_arrow())
            if not table_exists(conn, TABLE):
                conn.execute(f"CREATE TABLE {TABLE} AS SELECT * FROM finished WHERE false")
            add_new_columns(conn, TABLE, "finished")  # a table of an older version
            conn.execute(f"DELETE FROM {TABLE} WHERE search_key = ? AND searcher = ? "
                         "AND number = ?",
                         [self.keys["search_key"], self.keys["searcher"], iteration.number])
            conn.execute(f"INSERT INTO {TABLE} BY NAME SELECT * FROM finished")
            conn.unregister("finished")

    def _log(self, iteration: Iteration) -> None:
        values = {name: getattr(iteration, name) for name in METRICS}
        values["best_fitness"] = self.best
        for name, value in values.items():
            if value is not None:
                self.tracked.client.log_metric(self.tracked.run_id, name, float(value),
                                               step=iteration.number)
