"""The DuckDB SQL the feature functions run: package data in deeprule/features/sql/.

Read through importlib.resources, so an installed (not only an editable) package
finds them; pyproject.toml ships them as package data.
"""

from __future__ import annotations

from importlib import resources

import duckdb
import polars as pl

SQL_PACKAGE = "deeprule.features"


def load_sql(name: str) -> str:
    """Text of deeprule/features/sql/<name>.sql."""
    path = resources.files(SQL_PACKAGE).joinpath("sql", f"{name}.sql")
    if not path.is_file():
        raise FileNotFoundError(f"SQL file sql/{name}.sql is missing from {SQL_PACKAGE} "
                                "(package data: reinstall the project)")
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
