"""The atomic DuckDB IO manager: an unpartitioned output replaces its whole table."""

from pathlib import Path

import dagster as dg
import duckdb
import polars as pl

from resources.warehouse import AtomicDuckDBPolarsIOManager


def _write(database: Path, frame: pl.DataFrame) -> None:
    @dg.asset(name="table")
    def table() -> pl.DataFrame:
        return frame

    io = AtomicDuckDBPolarsIOManager(database=str(database), schema="main")
    assert dg.materialize([table], resources={"io_manager": io}).success


def test_a_new_column_in_an_unpartitioned_output_rewrites_the_table(tmp_path: Path) -> None:
    database = tmp_path / "w.duckdb"
    _write(database, pl.DataFrame({"a": [1, 2, 3]}))
    _write(database, pl.DataFrame({"a": [4], "b": ["new"]}))  # what a new release writes
    with duckdb.connect(str(database), read_only=True) as conn:
        assert conn.execute("SELECT * FROM main.table").fetchall() == [(4, "new")]
