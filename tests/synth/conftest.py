"""Fixtures for the synthetic-world tests (the tiny world itself is in tests/conftest.py)."""

import pytest

from deeprule.synth import World, build_world, resolve_spec


@pytest.fixture(scope="session")
def docs_world() -> World:
    """The tiny world with one document of every kind per customer (tiny itself has four)."""
    return build_world(resolve_spec("tiny", {"docs_per_customer": 5}))
