"""The shared frame: pair history of a plan month, and a pricing turned into a constrained plan."""

import numpy as np
import polars as pl
import pytest

from deeprule.baselines.common import Pricing, baseline_plans, pair_history
from deeprule.optimize.accounts import account_history
from deeprule.optimize.plans import Codes
from tests.helpers.baselines import catalogue, month_of, shipments


def _month():
    list_price = np.array([10.0, 20.0, 30.0, 40.0])
    skus = catalogue(list_price, 0.5 * list_price, ["A", "A", "B", "B"])
    units = np.zeros((2, 2, 4), dtype=int)
    units[:, 0, 0] = [4, 6]          # customer 0 buys SKU 0 at 0.9 x list
    units[:, 0, 2] = [2, 2]          # and SKU 2 at 0.8 x list
    units[0, 1, 1] = 10              # customer 1 buys SKU 1 once at 0.9 x list
    ratio = np.full((2, 2, 4), 0.9)
    ratio[:, 0, 2] = 0.8
    return month_of(shipments(units, ratio, skus), skus, 2)


def test_pair_history_gives_monthly_units_and_usual_prices() -> None:
    month = _month()
    past = pair_history(month)
    assert month.rows["sku_id"].to_list()[:4] == ["S00", "S01", "S02", "S03"]
    np.testing.assert_allclose(past["hist_units"].to_numpy(), [5, 0, 2, 0, 0, 5, 0, 0])
    # traded pairs: their mean paid price; others: list less the customer's mean discount
    discount_0 = (10 * 0.1 + 4 * 0.2) / 14
    np.testing.assert_allclose(past["usual_price"].to_numpy(), [
        9.0, 20 * (1 - discount_0), 24.0, 40 * (1 - discount_0),
        10 * 0.9, 18.0, 30 * 0.9, 40 * 0.9])


def test_a_pricing_becomes_a_plan_under_the_hard_constraints() -> None:
    month = _month()
    codes = Codes.of(month.rows)
    history = account_history(month.history, month.skus, None, codes.customers,
                              codes.categories, month.month)
    price = month.list_price * 0.95
    units = np.array([10.0, 1.0, 3.0, 1.0, 1.0, 8.0, 0.0, 2.0])
    eligible = units > 0
    lock = np.zeros(8)
    lock[6] = 1.0                     # customer 1 is locked on SKU 2, which the pricing skips
    plans = baseline_plans(month, Pricing(price, units, eligible), history,
                           (lock, np.full(8, "D-1", dtype=object)), "test")
    assert plans.customers["status"].to_list() == ["optimal", "optimal"]
    # customer 1's lock asks more than the baseline expects there (0 units): the contract's
    # unit is recommended all the same, forecast to sell nothing
    locked = plans.lines.filter(pl.col("customer_id") == "C001", pl.col("sku_id") == "S02")
    assert locked["units"].to_list() == [pytest.approx(1.0)]
    assert locked["pred_units"].to_list() == [0.0]
    assert locked["reason"][0].startswith("locked by contract")
    lines = plans.lines.filter(pl.col("customer_id") == "C000")
    assert lines["primary_category"].n_unique() >= 2
    value = float((lines["units"] * lines["price"]).sum())
    assert abs(value / history.mean_value[0] - 1) <= 0.25 + 1e-6
    assert (lines["rule_id"] == "test").all()
    assert (lines["price"] == pl.Series(price[:4]).gather(
        [int(s[1:]) for s in lines["sku_id"]])).all()
