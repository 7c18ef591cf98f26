"""Reading tables other runs wrote (previous results, optional inputs), absent or not."""

from __future__ import annotations

import polars as pl
from dagster_duckdb import DuckDBResource

from deeprule.io.warehouse import table_exists


def read_table_or_none(duckdb: DuckDBResource, name: str) -> pl.DataFrame | None:
    """The whole table, or None if it does not exist yet (connection closed on return)."""
    with duckdb.get_connection() as conn:
        if not table_exists(conn, name):
            return None
        return conn.execute(f'SELECT * FROM "{name}"').pl()
