"""Shared fixtures: a tiny world materialized into a throwaway DuckDB file.

Nothing here imports Dagster at import time: the domain tests (deeprule/) run
without it; only the fixtures that materialize assets load it, when used.
"""

from pathlib import Path

import polars as pl
import pytest

from deeprule.synth import World, WorldSpec, build_world, resolve_spec
from tests.helpers.priors import documents, truth


@pytest.fixture(scope="session")
def tiny_spec() -> WorldSpec:
    return resolve_spec("tiny")


@pytest.fixture(scope="session")
def tiny_world(tiny_spec: WorldSpec) -> World:
    """The tiny preset's world, built once per session (tests read it, never change it)."""
    return build_world(tiny_spec)


@pytest.fixture(scope="session")
def tiny_shipments(tiny_world: World) -> pl.DataFrame:
    """Every month of the tiny world's shipments, in month order."""
    return pl.concat([tiny_world.shipments(m) for m in tiny_world.spec.months])


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
