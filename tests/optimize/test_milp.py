"""The exact plan MILP against brute force on small instances, and its constraints."""

import itertools

import numpy as np
import pytest
from scipy.optimize import linprog

from deeprule.optimize import PlanConstraints, PlanOptions, efficient_options, solve_plans
from deeprule.optimize.milp import (
    MIN_LINE_UNITS,
    STATUS_INFEASIBLE,
    STATUS_NO_HISTORY,
    SalesTiers,
)


def _instance(seed: int, n_sku: int = 6, n_prices: int = 2, n_cat: int = 3,
              lock: bool = False) -> PlanOptions:
    rng = np.random.default_rng(seed)
    sku = np.repeat(np.arange(n_sku), n_prices)
    cost = np.repeat(rng.uniform(1, 5, n_sku), n_prices)
    price = cost * (1.1 + rng.uniform(0, 1.0, len(sku)))
    units = rng.uniform(0, 20, len(sku)) * np.exp(-(price / cost - 1.5))
    min_units = np.zeros(len(sku))
    if lock:
        min_units[sku == 0] = 0.5 * units[sku == 0].min()
    return PlanOptions.build(customer=np.zeros(len(sku), dtype=np.int64), sku=sku,
                             category=np.repeat(rng.integers(0, n_cat, n_sku), n_prices),
                             price=price, unit_cost=cost, max_units=units, min_units=min_units)


def _best_units(block: PlanOptions, rows: list[int], target: float,
                c: PlanConstraints) -> float | None:
    """Max profit of one fixed choice of lines: an LP over their sold units plus a padding
    of unsold purchase value (None: infeasible)."""
    if not rows:
        return None
    r = np.array(rows)
    cats = block.category[r]
    if len(set(cats)) < c.min_categories or max(np.bincount(cats)) > c.max_skus_per_category:
        return None
    value = np.r_[block.price[r], 1.0]
    res = linprog(np.r_[-(block.price[r] - block.unit_cost[r]), 0.0],
                  A_ub=np.vstack([value, -value]),
                  b_ub=[(1 + c.value_band) * target, -(1 - c.value_band) * target],
                  bounds=[*zip(np.maximum(MIN_LINE_UNITS, block.min_units[r]),
                               block.max_units[r], strict=True), (0, None)])
    return -res.fun if res.status == 0 else None


def _brute_force(block: PlanOptions, target: float, c: PlanConstraints) -> float | None:
    by_sku = [np.flatnonzero(block.sku == s).tolist() for s in np.unique(block.sku)]
    locked = {s for s in np.unique(block.sku) if block.min_units[block.sku == s].max() > 0}
    best = None
    choices = [opts if s in locked else [None, *opts]
               for s, opts in zip(np.unique(block.sku), by_sku, strict=True)]
    for pick in itertools.product(*choices):
        got = _best_units(block, [j for j in pick if j is not None], target, c)
        if got is not None and (best is None or got > best):
            best = got
    return best


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("lock", [False, True])
def test_milp_matches_brute_force(seed: int, lock: bool) -> None:
    block = _instance(seed, lock=lock)
    c = PlanConstraints(max_skus_per_category=2, min_categories=2)
    target = 0.4 * float(np.sum(block.price * block.max_units)) / 2
    expected = _brute_force(block, target, c)
    result = solve_plans(block, np.array([target]), c)
    if expected is None:
        assert result.status[0] == STATUS_INFEASIBLE
    else:
        assert result.status[0] == "optimal"
        assert result.profit[0] == pytest.approx(expected, rel=1e-5, abs=1e-3)


@pytest.mark.parametrize("seed", range(3))
def test_pruned_options_lose_nothing(seed: int) -> None:
    block = _instance(seed + 100, n_prices=4)
    c = PlanConstraints(max_skus_per_category=2)
    target = 0.3 * float(np.sum(block.price * block.max_units)) / 4
    pruned = efficient_options(block)
    assert len(pruned) < len(block)
    target_value = np.array([target])
    full, small = solve_plans(block, target_value, c), solve_plans(pruned, target_value, c)
    assert full.status[0] == small.status[0]
    assert small.profit[0] == pytest.approx(full.profit[0], rel=1e-6, abs=1e-6)


def test_plans_respect_every_constraint_on_random_customers() -> None:
    rng = np.random.default_rng(5)
    n_cust, n_sku = 8, 30
    cust, sku = np.meshgrid(np.arange(n_cust), np.arange(n_sku), indexing="ij")
    cust, sku = cust.ravel(), sku.ravel()
    cost = rng.uniform(1, 4, n_sku)[sku]
    price = cost * rng.uniform(1.05, 2.0, len(sku))
    units = rng.gamma(2.0, 5.0, len(sku))
    min_units = np.where((sku == 3) & (cust % 2 == 0), 0.5 * units, 0.0)
    options = PlanOptions.build(customer=cust, sku=sku, category=sku % 4, price=price,
                                unit_cost=cost, max_units=units, min_units=min_units)
    target = np.full(n_cust, 120.0)
    target[1] = np.nan
    c = PlanConstraints()
    result = solve_plans(options, target, c)
    assert result.status[1] == STATUS_NO_HISTORY
    for n, k in enumerate(result.customers):
        rows = options.customer == k
        chosen = result.units[rows] > 0
        if result.status[n] != "optimal":
            continue
        cats = options.category[rows][chosen]
        assert np.bincount(cats).max() <= c.max_skus_per_category
        assert len(np.unique(cats)) >= c.min_categories
        assert 0.75 * 120 - 1e-6 <= result.value[n] <= 1.25 * 120 + 1e-6
        assert np.all(result.sold[rows] <= options.max_units[rows] + 1e-9)
        assert np.all(result.sold[rows] <= result.units[rows] + 1e-9)
        for s in np.unique(options.sku[rows & (options.min_units > 0)]):
            pair = rows & (options.sku == s)
            assert result.sold[pair].sum() >= options.min_units[pair].max() - 1e-6
        assert len(np.unique(options.sku[rows][chosen])) == chosen.sum()


def test_a_value_band_beyond_demand_is_padded_with_units_that_earn_nothing() -> None:
    block = _instance(1)
    c = PlanConstraints(max_skus_per_category=2)
    result = solve_plans(block, np.array([1e6]), c)
    assert result.status[0] == "optimal"
    assert result.value[0] == pytest.approx(0.75e6, rel=1e-4)
    assert result.units.sum() > result.sold.sum()
    assert np.all(result.sold <= block.max_units + 1e-9)


def test_an_unmeetable_lock_is_reported_infeasible_not_dropped() -> None:
    block = _instance(2, lock=True)
    impossible = PlanOptions.build(**{**{f: getattr(block, f) for f in (
        "customer", "sku", "category", "price", "unit_cost", "max_units")},
        "min_units": np.where(block.sku == 0, 10 * block.max_units.max(), 0.0)})
    result = solve_plans(impossible, np.array([50.0]))
    assert result.status[0] == STATUS_INFEASIBLE
    assert result.units.sum() == 0


def test_parallel_workers_give_the_same_plans() -> None:
    rng = np.random.default_rng(9)
    n_cust, n_sku = 6, 12
    cust, sku = (a.ravel() for a in np.meshgrid(np.arange(n_cust), np.arange(n_sku),
                                                indexing="ij"))
    cost = rng.uniform(1, 4, n_sku)[sku]
    options = PlanOptions.build(customer=cust, sku=sku, category=sku % 3,
                                price=cost * rng.uniform(1.05, 2.0, len(sku)), unit_cost=cost,
                                max_units=rng.gamma(2.0, 5.0, len(sku)))
    target = np.full(n_cust, 60.0)
    one = solve_plans(options, target, PlanConstraints())
    two = solve_plans(options, target, PlanConstraints(workers=2))
    assert list(one.status) == list(two.status)
    np.testing.assert_allclose(one.units, two.units)
    np.testing.assert_allclose(one.profit, two.profit)


def _two_lines(max_units: float = 10.0) -> PlanOptions:
    """Two SKUs in two categories, price 10, cost 5: margin 5 a unit, forecast `max_units`."""
    return PlanOptions.build(customer=np.zeros(2, dtype=np.int64), sku=np.arange(2),
                             category=np.arange(2), price=np.full(2, 10.0),
                             unit_cost=np.full(2, 5.0), max_units=np.full(2, max_units))


def test_tiers_recommend_past_the_forecast_where_the_band_has_room():
    """Forecast 10 + 10 units (value 200); the band's top, 1.25 x 240 = 300, leaves room for
    half of a [1, 2] tier on each line: recommended 15 + 15, predicted sold still 10 + 10."""
    tiers = SalesTiers(upper=(1.0, 2.0), sold=(0.9, 0.3))
    result = solve_plans(_two_lines(), np.array([240.0]), PlanConstraints(min_categories=2),
                         tiers=tiers)
    assert result.units.sum() == pytest.approx(30.0, abs=1e-6)
    assert np.allclose(result.sold, 10.0)
    assert result.value[0] == pytest.approx(300.0, abs=1e-4)


def test_exact_tiers_recommend_the_forecast_only():
    result = solve_plans(_two_lines(), np.array([240.0]), PlanConstraints(min_categories=2))
    assert np.allclose(result.units, 10.0)


def test_a_tight_band_fills_the_forecast_before_any_tier():
    """Target 100: the band's top (125) holds 12.5 units; the forecast tier (worth 0.9 a
    unit) takes them all before the beyond-forecast tier (0.3)."""
    tiers = SalesTiers(upper=(1.0, 2.0), sold=(0.9, 0.3))
    result = solve_plans(_two_lines(), np.array([100.0]), PlanConstraints(min_categories=2),
                         tiers=tiers)
    assert result.units.sum() == pytest.approx(12.5, abs=1e-6)
    assert np.all(result.units <= 10.0 + 1e-6)


@pytest.mark.parametrize(("upper", "sold"), [((1.0, 1.0), (1.0, 0.5)), ((1.0, 2.0), (0.5, 0.9)),
                                             ((1.0,), (0.0,)), ((1.0, 2.0), (1.0,))])
def test_sales_tiers_refuse_a_curve_that_is_not_concave(upper, sold):
    with pytest.raises(ValueError, match="sales tiers"):
        SalesTiers(upper=upper, sold=sold)


def test_a_lock_above_the_forecast_is_recommended_in_full_and_predicted_to_sell_the_forecast():
    """SKU 0 is locked at 15 units against a forecast of 10: the plan recommends the 15 (the
    contract's), the 5 beyond the forecast earning nothing; the customer is planned."""
    block = _two_lines()
    locked = PlanOptions.build(**{**{f: getattr(block, f) for f in (
        "customer", "sku", "category", "price", "unit_cost", "max_units")},
        "min_units": np.array([15.0, 0.0])})
    result = solve_plans(locked, np.array([240.0]), PlanConstraints(min_categories=2))
    assert result.status[0] == "optimal"
    assert result.units[0] == pytest.approx(15.0, abs=1e-6)
    assert result.sold[0] == pytest.approx(10.0, abs=1e-6)
    assert result.profit[0] == pytest.approx(5.0 * 20.0, abs=1e-4)
