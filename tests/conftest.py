"""Shared fixtures: a tiny world materialized into a throwaway DuckDB file.

Nothing here imports Dagster at import time: the domain tests (deeprule/) run
without it; only the fixtures that materialize assets load it, when used.
"""

from pathlib import Path

import polars as pl
import pytest

from tests.helpers.priors import documents, truth


@pytest.fixture(scope="session")
def raw_tiny_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DuckDB file holding the tiny world's raw tables (built once per test session).

    Tests must not write to it; copy it first (see `tiny_db_copy`).
    """
    from tests.helpers.warehouse import materialize_raw

    database = tmp_path_factory.mktemp("raw") / "tiny.duckdb"
    materialize_raw(database)
    return database


@pytest.fixture()
def tiny_db_copy(raw_tiny_db: Path, tmp_path: Path) -> Path:
    """A private, writable copy of the tiny raw warehouse."""
    target = tmp_path / "tiny.duckdb"
    target.write_bytes(raw_tiny_db.read_bytes())
    return target


@pytest.fixture()
def docs() -> pl.DataFrame:
    """The hand-written documents of tests/helpers/priors.py."""
    return documents()


@pytest.fixture()
def facts() -> pl.DataFrame:
    """What each of those documents states."""
    return truth()
