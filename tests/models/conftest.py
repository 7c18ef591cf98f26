"""Scorer fixtures on the tiny world (no Dagster): the briefly trained uplift model (the data
and the demand model are shared, in tests/conftest.py)."""

import pytest

from deeprule.models.dataset import ScorerData
from deeprule.models.uplift import UpliftConfig, UpliftFit, fit_uplift


@pytest.fixture(scope="session")
def uplift_fit(tiny_data: ScorerData) -> UpliftFit:
    config = UpliftConfig(max_epochs=3, patience=3, lr=5e-3)
    return fit_uplift(tiny_data.train, tiny_data.valid, tiny_data.spec, config)
