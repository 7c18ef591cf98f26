"""Fixtures for the priors tests: the hand-written documents and their stated facts."""

import polars as pl
import pytest

from tests.helpers.priors import documents, truth


@pytest.fixture()
def docs() -> pl.DataFrame:
    return documents()


@pytest.fixture()
def facts() -> pl.DataFrame:
    return truth()
