"""True demand: defined at any price, falling in price, kinked, regime-dependent."""

from datetime import date

import numpy as np
import polars as pl
import pytest

from deeprule.synth import World


def _all_pairs(world: World) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (customer, sku) pair with the SKU's list price."""
    customers = world.customers()["customer_id"].to_numpy()
    skus = world.skus()
    cust = np.repeat(customers, skus.height)
    sku = np.tile(skus["sku_id"].to_numpy(), len(customers))
    price = np.tile(skus["list_price"].to_numpy(), len(customers))
    return cust, sku, price


def test_demand_never_rises_with_price(tiny_world: World) -> None:
    cust, sku, list_price = _all_pairs(tiny_world)
    month = tiny_world.spec.months[0]
    grid = np.linspace(0.2, 3.0, 57)
    q = np.stack([tiny_world.expected_units(cust, sku, list_price * g, month) for g in grid])
    assert np.all(np.isfinite(q)) and np.all(q > 0)
    assert np.all(np.diff(q, axis=0) <= 0)


def test_elasticity_is_negative_and_matches_demand_slope(tiny_world: World) -> None:
    cust, sku, list_price = _all_pairs(tiny_world)
    month = tiny_world.spec.months[1]
    for ratio in (0.5, 0.93, 1.0, 1.07, 2.0):
        price = list_price * ratio
        e = tiny_world.true_elasticity(cust, sku, price, month)
        h = 1e-5
        up = tiny_world.expected_units(cust, sku, price * np.exp(h), month)
        down = tiny_world.expected_units(cust, sku, price * np.exp(-h), month)
        assert np.all(e < 0)
        np.testing.assert_allclose(e, (np.log(up) - np.log(down)) / (2 * h), rtol=1e-4, atol=1e-6)


def _per_sku_elasticity(world: World, ratio_of_kink: float) -> pl.DataFrame:
    params = world.true_sku_params()
    cust, sku, _ = _all_pairs(world)
    kink_price = dict(zip(params["sku_id"], params["reference_price"] * params["kink_price_ratio"],
                          strict=True))
    price = np.array([kink_price[s] for s in sku]) * ratio_of_kink
    e = world.true_elasticity(cust, sku, price, world.spec.months[0])
    return pl.DataFrame({"sku_id": sku, "e": e}).join(params, on="sku_id")


def test_premium_and_everyday_skus_respond_differently(tiny_world: World) -> None:
    params = tiny_world.true_sku_params()
    assert params["premium"].any() and not params["premium"].all()
    cust, sku, list_price = _all_pairs(tiny_world)
    e = tiny_world.true_elasticity(cust, sku, list_price, tiny_world.spec.months[0])
    by_regime = pl.DataFrame({"sku_id": sku, "e": e}).join(params, on="sku_id").group_by(
        "premium").agg(pl.col("e").mean())
    mean = dict(by_regime.iter_rows())
    assert mean[True] > mean[False] + 0.5  # premium is far less elastic at list price


def test_elasticity_jumps_abruptly_at_the_kink(tiny_world: World) -> None:
    """Over the same +-8% log window, elasticity moves far more at the kink than away from it."""
    def change(centre: float) -> np.ndarray:
        low = _per_sku_elasticity(tiny_world, centre * np.exp(-0.08))["e"].to_numpy()
        high = _per_sku_elasticity(tiny_world, centre * np.exp(0.08))["e"].to_numpy()
        return low - high

    at_kink, away = change(1.0), change(0.6)
    assert np.all(at_kink > 0) and np.all(away > 0)
    assert np.all(at_kink > 3 * away)


def test_demand_defined_far_outside_history(tiny_world: World) -> None:
    cust, sku, list_price = _all_pairs(tiny_world)
    for ratio in (0.05, 10.0):
        q = tiny_world.expected_units(cust, sku, list_price * ratio, date(2031, 7, 1))
        assert np.all(np.isfinite(q)) and np.all(q >= 0)


def test_out_of_scope_categories_sell_little(tiny_world: World) -> None:
    traits = tiny_world.true_customer_traits()
    skus = tiny_world.skus()
    cust, sku, list_price = _all_pairs(tiny_world)
    q = tiny_world.expected_units(cust, sku, list_price, tiny_world.spec.months[0])
    scope = dict(zip(traits["customer_id"], traits["category_scope"], strict=True))
    category = dict(zip(skus["sku_id"], skus["primary_category"], strict=True))
    inside = np.array([category[s] in scope[c].split("|") for c, s in zip(cust, sku, strict=True)])
    assert inside.any() and (~inside).any()
    assert np.median(q[~inside]) < 0.1 * np.median(q[inside])


def test_realized_units_scatter_around_expected(
    tiny_world: World, tiny_shipments: pl.DataFrame
) -> None:
    df = tiny_shipments
    expected = tiny_world.expected_units(df["customer_id"], df["sku_id"],
                                         df["unit_price"].to_numpy(), df["month"])
    ratio = df["units"].sum() / expected.sum()
    assert 0.85 < ratio < 1.15
    assert not np.allclose(df["units"].to_numpy(), expected)  # noisy, not the mean itself


def test_seasonality_moves_demand_between_months(tiny_world: World) -> None:
    cust, sku, list_price = _all_pairs(tiny_world)
    winter = tiny_world.expected_units(cust, sku, list_price, date(2024, 1, 1))
    summer = tiny_world.expected_units(cust, sku, list_price, date(2024, 7, 1))
    assert np.abs(np.log(summer / winter)).max() > 0.1


def test_inputs_are_checked(tiny_world: World) -> None:
    sku = tiny_world.skus()["sku_id"][0]
    customer = tiny_world.customers()["customer_id"][0]
    month = tiny_world.spec.months[0]
    with pytest.raises(KeyError, match="NOPE"):
        tiny_world.expected_units(["NOPE"], [sku], [1.0], month)
    with pytest.raises(ValueError, match="unit_price"):
        tiny_world.expected_units([customer], [sku], [0.0], month)
    with pytest.raises(ValueError, match="length"):
        tiny_world.expected_units([customer, customer], [sku], [1.0, 1.0], month)


def test_months_may_be_an_array(tiny_world: World) -> None:
    cust, sku, list_price = _all_pairs(tiny_world)
    months = np.array([tiny_world.spec.months[i % 3] for i in range(len(cust))], dtype=object)
    per_row = tiny_world.expected_units(cust, sku, list_price, months)
    first = tiny_world.expected_units(cust[::3], sku[::3], list_price[::3], months[0])
    np.testing.assert_allclose(per_row[::3], first)
