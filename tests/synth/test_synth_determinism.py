"""A spec fully determines its world; each month is generated independently."""

from dataclasses import replace
from datetime import date

import pytest
from polars.testing import assert_frame_equal

from deeprule.synth import World, WorldSpec

TABLES = ("customers", "stores", "skus", "documents", "document_facts",
          "true_customer_traits", "true_sku_params")


def test_same_spec_gives_identical_frames(tiny_spec: WorldSpec) -> None:
    first, second = World(tiny_spec), World(tiny_spec)
    for table in TABLES:
        assert_frame_equal(getattr(first, table)(), getattr(second, table)())
    for month in tiny_spec.months:
        assert_frame_equal(first.shipments(month), second.shipments(month))


def test_different_seed_gives_different_world(tiny_spec: WorldSpec) -> None:
    base, other = World(tiny_spec), World(replace(tiny_spec, seed=tiny_spec.seed + 1))
    month = tiny_spec.months[0]
    for table in ("customers", "stores", "skus", "documents"):
        assert not getattr(base, table)().equals(getattr(other, table)()), table
    assert not base.shipments(month).equals(other.shipments(month))


def test_month_generated_alone_equals_month_generated_in_sequence(tiny_spec: WorldSpec) -> None:
    third = tiny_spec.months[2]
    alone = World(tiny_spec).shipments(third)
    sequential = World(tiny_spec)
    for month in tiny_spec.months[:2]:
        sequential.shipments(month)
    assert_frame_equal(alone, sequential.shipments(third))


def test_months_differ_from_each_other(tiny_world: World) -> None:
    first, second = (tiny_world.shipments(m) for m in tiny_world.spec.months[:2])
    assert not first.drop("month").equals(second.drop("month"))


def test_adding_months_does_not_change_existing_ones(tiny_spec: WorldSpec) -> None:
    longer = World(replace(tiny_spec, n_months=tiny_spec.n_months + 6))
    month = tiny_spec.months[1]
    assert_frame_equal(World(tiny_spec).shipments(month), longer.shipments(month))


@pytest.mark.parametrize("month", [date(2023, 12, 1), date(2030, 1, 1), date(2024, 2, 15)])
def test_month_outside_world_is_rejected_by_name(tiny_world: World, month: date) -> None:
    with pytest.raises(ValueError, match=month.isoformat()):
        tiny_world.shipments(month)
