"""Small questions about the DuckDB warehouse every layer asks the same way."""

from __future__ import annotations

import duckdb


def add_new_columns(conn: duckdb.DuckDBPyConnection, name: str, frame: str = "frame") -> None:
    """Columns a newer version added to the registered `frame` join the stored table (older
    rows read null there), so a run of this version appends to an older run's table."""
    stored = {r[0] for r in conn.execute(f"DESCRIBE {name}").fetchall()}
    for column, kind, *_ in conn.execute(f"DESCRIBE {frame}").fetchall():
        if column not in stored:
            conn.execute(f'ALTER TABLE {name} ADD COLUMN "{column}" {kind}')


def table_exists(conn: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether a table (or view) called `name` exists in the connected database."""
    found = conn.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]
    ).fetchone()
    return bool(found and found[0])
