"""The Appendix E heuristic against allocations computed by hand, and against the exact MILP."""

import numpy as np
import pytest

from deeprule.optimize import PlanConstraints, PlanOptions, efficient_options, solve_plans
from deeprule.optimize.heuristic import STATUS_BELOW_THETA, appendix_e
from deeprule.optimize.milp import STATUS_INFEASIBLE
from deeprule.optimize.plans import violations

# (customer, category k1, secondary k2, price, cost, predicted units, lock)
HAND = [
    # customer 0 (A = 1000, h = 0.6 / 0.4, FR = 0.10: threshold r > 0.18)
    # k1 = 0: L = 0.95*0.5*1000 = 475, U = 1.05*0.7*1000 = 735; X^ = 500 + 500 > U: scale down
    (0, 0, 0, 10.0, 5.0, 50.0, 0.0),
    (0, 0, 0, 10.0, 5.0, 50.0, 0.0),
    # k1 = 1: L = 285, U = 525; X^ = 30 * 10 = 300 within: x = s^; r = 0.1 is no candidate
    (0, 1, 1, 10.0, 6.0, 30.0, 0.0),
    (0, 1, 1, 10.0, 9.0, 30.0, 0.0),
    # customer 1 (A = 1000, h = 0.5 / 0.5): k1 = 0: L = 380, U = 630; X^ = 200 < L: fill 180
    (1, 0, 0, 10.0, 5.0, 20.0, 0.0),
    (1, 0, 0, 10.0, 8.5, 5.0, 0.0),    # r .15, secondary 0: filler 1 (value 50)
    (1, 0, 0, 10.0, 8.6, 5.0, 0.0),    # r .14, secondary 0: filler 2 (value 50)
    (1, 0, 0, 10.0, 8.7, 100.0, 0.0),  # r .13, secondary 0: third of its secondary, skipped
    (1, 0, 2, 10.0, 8.8, 100.0, 0.0),  # r .12, secondary 2: filler 3, covers the gap
    (1, 0, 2, 10.0, 8.9, 100.0, 0.0),  # r .11: not needed
    # k1 = 1: L = 380, U = 630; X^ = 30 * 20 = 600 within
    (1, 1, 1, 20.0, 10.0, 30.0, 0.0),
]
SHARE = np.array([[0.6, 0.4], [0.5, 0.5]])
FEE = np.full((2, 2), 0.10)
TARGET = np.array([1000.0, 1000.0])


def _options(rows: list[tuple]) -> tuple[PlanOptions, np.ndarray]:
    cust, k1, k2, price, cost, pred, lock = (np.array(c) for c in zip(*rows, strict=True))
    options = PlanOptions.build(customer=cust.astype(np.int64), sku=np.arange(len(rows)),
                                category=k1.astype(np.int64), price=price, unit_cost=cost,
                                max_units=pred, min_units=lock)
    return options, k2[options.sku].astype(np.int64)


def test_the_three_branches_match_the_hand_computed_allocation() -> None:
    options, secondary = _options(HAND)
    plan = appendix_e(options, secondary, TARGET, SHARE, FEE)
    # customer 0: 735 / 1000 of each forecast (scale down), 30 (within), 0 (low margin)
    # customer 1: 20; fillers min(s^, 180 / 3 / 10 = 6) = 5, 5, 6; 0; 0; 30
    expected = [36.75, 36.75, 30.0, 0.0, 20.0, 5.0, 5.0, 0.0, 6.0, 0.0, 30.0]
    assert plan.result.units == pytest.approx(expected, abs=1e-9)
    assert list(plan.result.status) == ["optimal", "optimal"]
    assert plan.result.value == pytest.approx([1035.0, 960.0])  # inside 0.95-1.05 A: no rescale
    assert plan.reason[0].startswith("high margin 50% > FR 10% + 8%; scaled to U")
    assert plan.reason[2] == "high margin 40% > FR 10% + 8%"
    assert plan.reason[5].startswith("fill: category below L")
    assert plan.reason[3] == "" and plan.reason[7] == ""


def test_the_global_band_scales_the_unlocked_lines() -> None:
    options, secondary = _options(HAND)
    target = np.array([800.0, 1000.0])  # customer 0 at 1035 (bounds from h unchanged in kind)
    plan = appendix_e(options, secondary, target, SHARE, FEE)
    assert plan.result.value[0] == pytest.approx(1.05 * 800.0)
    assert "band" in plan.reason[0]


def test_locks_are_fixed_and_reduce_the_category_bounds() -> None:
    rows = [list(r) for r in HAND]
    rows[3][6] = 12.0  # the low-margin SKU of customer 0 locked at 12 units (value 120)
    options, secondary = _options([tuple(r) for r in rows])
    plan = appendix_e(options, secondary, TARGET, SHARE, FEE,
                      lock_source=np.array(["", "", "", "D-1"] + [""] * 7, dtype=object))
    assert plan.result.units[3] == pytest.approx(12.0)
    assert plan.reason[3] == "locked by contract (12 units), doc D-1"
    # k1 = 1 bounds less the lock: L = 165, U = 405; X^ = 300 still within, x = 30; the
    # total 735 + 300 + 120 > 1050, so the unlocked lines are scaled by (1050 - 120) / 1035
    assert plan.result.units[2] == pytest.approx(30.0 * 930.0 / 1035.0)
    assert plan.result.units[0] == pytest.approx(36.75 * 930.0 / 1035.0)
    assert plan.result.value[0] == pytest.approx(1050.0)


def test_a_customer_with_one_category_is_reported_not_dropped() -> None:
    options, secondary = _options([r for r in HAND if r[0] == 0 and r[1] == 0])
    plan = appendix_e(options, secondary, TARGET, SHARE, FEE)
    assert plan.result.status[0] == STATUS_INFEASIBLE
    assert "fewer than 2 categories" in plan.why_not[0]
    assert plan.result.units.sum() == 0


def test_a_weak_forecast_is_below_theta() -> None:
    options, secondary = _options([(0, 0, 0, 10.0, 5.0, 0.4, 0.0), (0, 1, 1, 10.0, 5.0, 0.4, 0.0)])
    plan = appendix_e(options, secondary, TARGET, SHARE, FEE)
    assert plan.result.status[0] == STATUS_BELOW_THETA


def test_more_than_five_high_margin_skus_in_a_category_are_cut_to_five() -> None:
    rows = [(0, 0, k2, 10.0, 5.0 - 0.1 * j, 10.0, 0.0) for j in range(8) for k2 in (j % 2,)]
    rows += [(0, 1, 5, 10.0, 5.0, 20.0, 0.0)]
    options, secondary = _options(rows)
    plan = appendix_e(options, secondary, np.array([600.0]), np.array([[0.7, 0.3]]),
                      np.array([[0.1, 0.1]]))
    chosen = plan.result.units > 0
    assert np.sum(chosen & (options.category == 0)) == 5
    # the five kept are the best predicted profit: the lowest costs (rows 3..7)
    assert set(np.flatnonzero(chosen & (options.category == 0))) == {3, 4, 5, 6, 7}


def _random(seed: int, n_cust: int = 12, n_sku: int = 40) -> tuple[PlanOptions, np.ndarray,
                                                                     np.ndarray, np.ndarray,
                                                                     np.ndarray]:
    rng = np.random.default_rng(seed)
    cust, sku = (a.ravel() for a in np.meshgrid(np.arange(n_cust), np.arange(n_sku),
                                                 indexing="ij"))
    k1 = rng.integers(0, 4, n_sku)
    k2 = k1 * 3 + rng.integers(0, 3, n_sku)
    cost = rng.uniform(1, 4, n_sku)[sku]
    price = cost * rng.uniform(1.02, 1.8, len(sku))
    pred = rng.gamma(1.5, 4.0, len(sku)) * (rng.random(len(sku)) < 0.6)
    lock = np.where((sku == 7) & (cust % 3 == 0), 0.5 * pred, 0.0)
    options = PlanOptions.build(customer=cust, sku=sku, category=k1[sku], price=price,
                                unit_cost=cost, max_units=pred, min_units=lock)
    share = rng.dirichlet(np.ones(4), n_cust)
    fee = share * rng.uniform(0.05, 0.3, (n_cust, 1))
    target = rng.uniform(0.2, 1.2, n_cust) * 0.3 * np.bincount(cust, price * pred) / 4
    return options, k2[options.sku], target, share, fee


@pytest.mark.parametrize("seed", range(4))
def test_the_milp_is_never_worse_and_neither_violates(seed: int) -> None:
    options, secondary, target, share, fee = _random(seed)
    constraints = PlanConstraints()
    heuristic = appendix_e(options, secondary, target, share, fee)
    exact = solve_plans(efficient_options(options), target, constraints,
                        customers=heuristic.result.customers)
    both = (heuristic.result.status == "optimal") & (exact.status == "optimal")
    assert both.sum() >= 6
    assert np.all(exact.profit[both] >= heuristic.result.profit[both] - 1e-6 * target[both])
    assert not np.any((heuristic.result.status == "optimal") & (exact.status == STATUS_INFEASIBLE))
    for result in (heuristic.result, exact):
        assert violations(result, target, constraints)["violations"].sum() == 0


def test_plans_are_reproducible() -> None:
    first = appendix_e(*_random(3)[:2], *_random(3)[2:])
    second = appendix_e(*_random(3)[:2], *_random(3)[2:])
    assert np.array_equal(first.result.units, second.result.units)
    assert list(first.reason) == list(second.reason)
