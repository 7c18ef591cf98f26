"""The proving ground's headroom on a small world: room to gain, from assortment and documents."""

import numpy as np
import polars as pl
import pytest

from deeprule.evaluate.headroom import PLANS, Headroom, measure_headroom
from deeprule.optimize.milp import STATUS_OPTIMAL
from deeprule.synth import World, build_world, resolve_spec

SMALL = {"n_customers": 60, "n_skus": 24, "n_months": 6}


@pytest.fixture(scope="module")
def small_world() -> World:
    return build_world(resolve_spec("tiny", SMALL))


@pytest.fixture(scope="module")
def headroom(small_world: World) -> Headroom:
    return measure_headroom(small_world, small_world.spec.months[-1])


def test_the_logged_policy_leaves_room_that_needs_assortment_and_documents(
    headroom: Headroom,
) -> None:
    total = {p: float(headroom.profit[p].sum()) for p in PLANS}
    logged, prices, oracle, revealed = (total[p] for p in PLANS)
    assert oracle >= 1.25 * logged
    assert prices - logged <= 0.6 * (oracle - logged)
    assert oracle - revealed >= 0.05 * logged
    assert bool(headroom.checks()["met"].all())


def test_every_customer_is_solved_and_reading_never_hurts(headroom: Headroom) -> None:
    assert (headroom.oracle.status == STATUS_OPTIMAL).all()
    assert (headroom.revealed.status == STATUS_OPTIMAL).all()
    oracle, revealed = headroom.profit[PLANS[2]], headroom.profit[PLANS[3]]
    assert np.all(oracle >= revealed * (1 - 1e-6) - 1e-6)
    assert np.all(headroom.profit[PLANS[1]] >= headroom.profit[PLANS[0]] - 1e-6)


def test_oracle_plans_keep_the_hard_constraints_locks_and_ceilings(
    small_world: World, headroom: Headroom,
) -> None:
    result = headroom.oracle
    opts = result.options
    chosen = result.units > 0
    skus = small_world.skus()
    ceiling = small_world.true_customer_traits()["discount_ceiling"].to_numpy()
    list_price = skus["list_price"].to_numpy()
    assert np.all(opts.price[chosen] >= list_price[opts.sku[chosen]]
                  * (1 - ceiling[opts.customer[chosen]]) - 1e-9)
    assert np.all(opts.price[chosen] >= opts.unit_cost[chosen] - 1e-9)
    plan = pl.DataFrame({"c": opts.customer[chosen], "k": opts.category[chosen],
                         "s": opts.sku[chosen]})
    per_cat = plan.group_by("c", "k").len()
    assert per_cat["len"].max() <= 5
    assert plan.group_by("c").agg(pl.col("k").n_unique())["k"].min() >= 2
    assert plan.group_by("c", "s").len()["len"].max() == 1
    customers = small_world.customers()["customer_id"].to_list()
    locks = small_world.policy_locks()
    sold = pl.DataFrame({"c": opts.customer, "s": opts.sku, "sold": result.sold})
    for cid, sku, units in locks.iter_rows():
        c, s = customers.index(cid), skus["sku_id"].to_list().index(sku)
        assert sold.filter(c=c, s=s)["sold"].sum() >= units - 1e-6


def test_the_revealed_oracle_uses_only_traded_categories_and_brands(
    small_world: World, headroom: Headroom,
) -> None:
    result = headroom.revealed
    month = headroom.month
    history = pl.concat([small_world.shipments(m) for m in small_world.spec.months
                         if m < month]).filter(pl.col("units") > 0)
    skus = small_world.skus().with_row_index("s")
    traded = history.join(skus, on="sku_id")
    customers = small_world.customers()["customer_id"].to_list()
    cats = {(customers.index(c), k) for c, k in traded.select("customer_id",
                                                              "primary_category").iter_rows()}
    brands = {(customers.index(c), b) for c, b in traded.select("customer_id", "brand")
              .iter_rows()}
    cat_of, brand_of = skus["primary_category"].to_list(), skus["brand"].to_list()
    chosen = result.units > 0
    for c, s in zip(result.options.customer[chosen], result.options.sku[chosen], strict=True):
        assert (c, cat_of[s]) in cats and (c, brand_of[s]) in brands
