"""Small questions about the DuckDB warehouse every layer asks the same way."""

from __future__ import annotations

import duckdb


def table_exists(conn: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether a table (or view) called `name` exists in the connected database."""
    found = conn.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]
    ).fetchone()
    return bool(found and found[0])
