"""The four baselines on the tiny world: plans under the hard constraints, realized under the
true demand, never above the constrained oracle; the market answers with samples."""

from dataclasses import replace

import numpy as np
import polars as pl
import pytest

from deeprule.baselines.common import pair_history, plan_month
from deeprule.baselines.mixed_logit import MixedLogitSettings, choice_data
from deeprule.evaluate.baselines import (
    BASELINES,
    BaselineRun,
    BaselineSettings,
    WorldMarket,
    baseline_month,
    run_baselines,
)
from deeprule.synth import World

QUICK = BaselineSettings()
"""Defaults: tiny is small enough."""


@pytest.fixture(scope="module")
def run(tiny_world: World) -> BaselineRun:
    return run_baselines(tiny_world, settings=QUICK)


def test_every_baseline_plans_every_customer_without_violations(run: BaselineRun) -> None:
    table = run.table
    assert table["plan"].to_list() == [*BASELINES, "logged policy", "constrained oracle"]
    baselines = table.filter(pl.col("plan").is_in(BASELINES))
    assert baselines["violations"].to_list() == [0] * len(BASELINES)
    assert (baselines["customers_planned"] + baselines["customers_without_plan"]).to_list() \
        == [run.plans[BASELINES[0]].customers.height] * len(BASELINES)
    assert (baselines["profit"] > 0).all() and (baselines["units"] > 0).all()
    assert table.filter(pl.col("plan") == "logged policy")["violations"].is_null().all()


def test_no_baseline_beats_the_constrained_oracle(run: BaselineRun) -> None:
    oracle = run.table.filter(pl.col("plan") == "constrained oracle")["profit"].item()
    others = run.table.filter(pl.col("plan") != "constrained oracle")
    # up to the oracle's price grid (docs/plans.md): 1% of slack, no more
    assert (others["profit"] <= 1.01 * oracle).all(), others


def test_plan_lines_honour_prices_and_constraints(run: BaselineRun) -> None:
    for name, plans in run.plans.items():
        lines = plans.lines
        assert (lines["price"] >= lines["unit_cost"] - 1e-9).all(), name
        assert (lines.group_by("customer_id", "primary_category").len()["len"] <= 5).all()
        assert (lines["rule_id"] == name).all()
        status = plans.customers.filter(pl.col("status") != "optimal")
        assert (status["why_no_plan"].str.len_chars() > 0).all(), name


def test_the_market_answers_sampled_units(tiny_world: World) -> None:
    months = tiny_world.spec.months
    history = pl.concat([tiny_world.shipments(m) for m in months[:-1]])
    target = plan_month(history, tiny_world.skus(), months[-1])
    market = WorldMarket(tiny_world, target, months[-2], seed=0)
    price = pair_history(target)["usual_price"].to_numpy()
    first, second = market.respond(price), market.respond(price)
    assert np.all(first == np.round(first)) and not np.array_equal(first, second)
    # the month before the plan month: no method trains on the month it is scored on
    expected = tiny_world.expected_units(target.rows["customer_id"], target.rows["sku_id"],
                                         price, months[-2])
    assert abs((first + second).sum() / (2 * expected.sum()) - 1) < 0.05


def test_a_baseline_run_is_reproducible_for_a_seed(tiny_world: World) -> None:
    settings = replace(QUICK, seed=3)
    tables = [run_baselines(tiny_world, settings=settings, methods=(BASELINES[0],)).table
              for _ in range(2)]
    assert tables[0].drop("seconds").equals(tables[1].drop("seconds"))


def test_a_market_open_to_traded_pairs_sells_nothing_elsewhere(tiny_world: World) -> None:
    months = tiny_world.spec.months
    history = pl.concat([tiny_world.shipments(m) for m in months[:-1]])
    target = plan_month(history, tiny_world.skus(), months[-1])
    traded = pair_history(target)["hist_units"].to_numpy() > 0
    market = WorldMarket(tiny_world, target, months[-2], seed=0, open_pairs=traded)
    units = market.respond(target.list_price)
    assert units[~traded].sum() == 0 and units[traded].sum() > 0


def test_a_short_b2b_fit_window_still_sizes_and_segments_every_customer_on_all_history(
        tiny_world: World) -> None:
    """The mixed logit fits on the last `history_months` only; a customer quiet in that
    window keeps its segment and market size, so it is still planned."""
    month = baseline_month(tiny_world, tiny_world.spec.months[-1]).target
    full, customers, size = choice_data(month, MixedLogitSettings())
    short, short_customers, short_size = choice_data(month, MixedLogitSettings(history_months=1))
    assert 0 < len(np.unique(short.situation)) < len(np.unique(full.situation))
    cell = ["customer_id", "primary_category"]  # group_by's order is not fixed
    assert short_customers.equals(customers) and short_size.sort(cell).equals(size.sort(cell))
