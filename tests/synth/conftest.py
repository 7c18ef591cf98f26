"""Fixtures for the synthetic-world tests: the tiny preset, built once per session."""

import polars as pl
import pytest

from deeprule.synth import World, WorldSpec, build_world, resolve_spec


@pytest.fixture(scope="session")
def tiny_spec() -> WorldSpec:
    return resolve_spec("tiny")


@pytest.fixture(scope="session")
def tiny_world(tiny_spec: WorldSpec) -> World:
    return build_world(tiny_spec)


@pytest.fixture(scope="session")
def tiny_shipments(tiny_world: World) -> pl.DataFrame:
    """Every month of the tiny world's shipments, in month order."""
    return pl.concat([tiny_world.shipments(m) for m in tiny_world.spec.months])


@pytest.fixture(scope="session")
def docs_world() -> World:
    """The tiny world with one document of every kind per customer (tiny itself has four)."""
    return build_world(resolve_spec("tiny", {"docs_per_customer": 5}))
