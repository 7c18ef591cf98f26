"""The DuckDB SQL files under sql/ that the feature functions run."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"


def load_sql(name: str) -> str:
    """Text of sql/<name>.sql."""
    path = SQL_DIR / f"{name}.sql"
    if not path.is_file():
        raise FileNotFoundError(f"SQL file {path} is missing (expected in the project's sql/)")
    return path.read_text()


def run_on_frames(
    name: str, frames: dict[str, pl.DataFrame], params: dict[str, object] | None = None
) -> pl.DataFrame:
    """Run sql/<name>.sql in a private in-memory DuckDB where `frames` are the tables."""
    conn = duckdb.connect()
    try:
        for table, frame in frames.items():
            conn.register(table, frame)
        return conn.execute(load_sql(name), params or {}).pl()
    finally:
        conn.close()
