"""Shared fixtures: a tiny world materialized into a throwaway DuckDB file.

Nothing here imports Dagster at import time: the domain tests (deeprule/) run
without it; only the fixtures that materialize assets load it, when used.
"""

from pathlib import Path

import polars as pl
import pytest

from deeprule.models.dataset import ScorerData, prepare
from deeprule.models.demand import DemandConfig, DemandFit, fit_demand
from deeprule.models.frames import SourceTables
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
def tiny_tables(tiny_shipments: pl.DataFrame, tiny_world: World) -> SourceTables:
    return SourceTables(tiny_shipments, tiny_world.skus())


@pytest.fixture(scope="session")
def tiny_data(tiny_tables: SourceTables) -> ScorerData:
    return prepare(tiny_tables, validation_months=1, test_months=1)


@pytest.fixture(scope="session")
def demand_fit(tiny_data: ScorerData) -> DemandFit:
    config = DemandConfig(beta=0.3, max_epochs=3, patience=3, lr=5e-3)
    return fit_demand(tiny_data.train, tiny_data.valid, tiny_data.spec, config)


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
