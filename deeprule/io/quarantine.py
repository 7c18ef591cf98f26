"""The quarantine table: every rejected raw row with its reason, one place for all tables."""

from __future__ import annotations

import duckdb
import polars as pl

from deeprule.io.validate import QUARANTINE_SCHEMA

QUARANTINE_TABLE = "quarantine"
UNASSIGNED_PARTITION = "__unassigned__"

_CREATE = f"""
CREATE TABLE IF NOT EXISTS {QUARANTINE_TABLE} (
    table_name VARCHAR, partition_key VARCHAR, source_file VARCHAR, source_row BIGINT,
    column_name VARCHAR, reason VARCHAR, raw_record VARCHAR, run_id VARCHAR,
    recorded_at TIMESTAMP DEFAULT current_timestamp
)
"""


def replace_quarantine(
    conn: duckdb.DuckDBPyConnection,
    table_name: str,
    partition_key: str,
    rows: pl.DataFrame,
    run_id: str,
) -> int:
    """Replace this table+partition's quarantined rows in one transaction, so a rerun never
    duplicates them and a crash never leaves them half replaced."""
    conn.execute(_CREATE)
    conn.execute("BEGIN TRANSACTION")
    try:
        count = _replace(conn, table_name, partition_key, rows, run_id)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return count


def _replace(conn: duckdb.DuckDBPyConnection, table_name: str, partition_key: str,
             rows: pl.DataFrame, run_id: str) -> int:
    conn.execute(
        f"DELETE FROM {QUARANTINE_TABLE} WHERE table_name = ? AND partition_key = ?",
        [table_name, partition_key],
    )
    if rows.is_empty():
        return 0
    frame = rows.select(list(QUARANTINE_SCHEMA)).with_columns(
        pl.lit(partition_key).alias("partition_key"), pl.lit(run_id).alias("run_id")
    )
    conn.register("_q_rows", frame.to_arrow())
    try:
        conn.execute(
            f"INSERT INTO {QUARANTINE_TABLE} (table_name, partition_key, source_file, source_row,"
            " column_name, reason, raw_record, run_id) SELECT table_name, partition_key,"
            " source_file, source_row, column_name, reason, raw_record, run_id FROM _q_rows"
        )
    finally:
        conn.unregister("_q_rows")
    return frame.height


def quarantined_count(conn: duckdb.DuckDBPyConnection, table_name: str) -> int:
    """How many rows of `table_name` are in quarantine (0 if the table was never written)."""
    conn.execute(_CREATE)
    row = conn.execute(
        f"SELECT count(*) FROM {QUARANTINE_TABLE} WHERE table_name = ?", [table_name]
    ).fetchone()
    return int(row[0]) if row else 0
