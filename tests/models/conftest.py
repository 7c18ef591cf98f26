"""Scorer fixtures on the tiny world's raw tables (no Dagster): data and briefly trained models."""

import polars as pl
import pytest

from deeprule.models.dataset import ScorerData, prepare
from deeprule.models.demand import DemandConfig, DemandFit, fit_demand
from deeprule.models.frames import SourceTables
from deeprule.models.uplift import UpliftConfig, UpliftFit, fit_uplift
from deeprule.synth import World


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
def uplift_fit(tiny_data: ScorerData) -> UpliftFit:
    config = UpliftConfig(max_epochs=3, patience=3, lr=5e-3)
    return fit_uplift(tiny_data.train, tiny_data.valid, tiny_data.spec, config)
