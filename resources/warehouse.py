"""The DuckDB IO manager, made atomic: each output is replaced in one transaction.

dagster-duckdb deletes a partition's rows and inserts the new ones as separate
statements; a run killed between them (kill -9, OOM, a lost machine) would leave the
partition empty or, with a later partial insert, half-written while Dagster still
shows the old materialization. Here the delete and the insert commit together:
after any crash a reader sees the old rows or the new ones, never a mix, and a
rerun replaces them (tests/test_faults.py kills writers mid-transaction).
Connections retry while another process holds the file's write lock (dagster-duckdb's
backoff); the `duckdb` pool (dagster_home/dagster.yaml) keeps writers to one at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
from dagster._core.storage.db_io_manager import DbIOManager, TableSlice
from dagster_duckdb.io_manager import DuckDbClient, _get_cleanup_statement
from dagster_duckdb_polars import DuckDBPolarsIOManager


class AtomicDuckDbClient(DuckDbClient):
    """DuckDbClient whose connection is one transaction, committed only on success."""

    @staticmethod
    @contextmanager
    def connect(context, table_slice: TableSlice) -> Iterator[duckdb.DuckDBPyConnection]:
        with DuckDbClient.connect(context, table_slice) as conn:
            conn.execute("BEGIN TRANSACTION")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @staticmethod
    def delete_table_slice(context, table_slice: TableSlice,
                           connection: duckdb.DuckDBPyConnection) -> None:
        """Delete the slice if the table exists (a failed DELETE would abort the transaction).

        An unpartitioned table is dropped, not emptied: the output replaces all of it, so
        a new release that adds a column rewrites the table instead of failing to insert
        into the old schema. Inside the transaction, a crash still leaves the old table."""
        found = connection.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? "
            "AND table_name = ?", [table_slice.schema, table_slice.table]).fetchone()
        if not (found and found[0]):
            return
        if table_slice.partition_dimensions:
            connection.execute(_get_cleanup_statement(table_slice))
        else:
            connection.execute(f'DROP TABLE "{table_slice.schema}"."{table_slice.table}"')


class AtomicDuckDBPolarsIOManager(DuckDBPolarsIOManager):
    """DuckDBPolarsIOManager writing each output in one transaction."""

    def create_io_manager(self, context) -> DbIOManager:
        return DbIOManager(
            db_client=AtomicDuckDbClient(), database=self.database, schema=self.schema_,
            type_handlers=self.type_handlers(), default_load_type=self.default_load_type(),
            io_manager_name="DuckDBIOManager",
        )
