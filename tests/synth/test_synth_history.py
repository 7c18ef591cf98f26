"""The logged history: assortments, a confounded pricing policy, noisy integer units."""

import numpy as np
import polars as pl

from deeprule.synth import World


def _per_customer(world: World, shipments: pl.DataFrame) -> pl.DataFrame:
    return (
        shipments.group_by("customer_id")
        .agg(pl.col("discount").mean().alias("mean_discount"),
             pl.col("sku_id").n_unique().alias("n_skus"))
        .join(world.true_customer_traits(), on="customer_id")
        .join(world.customers().select("customer_id", "business_scale"), on="customer_id")
    )


def test_every_customer_ships_about_its_assortment_size(
    tiny_world: World, tiny_shipments: pl.DataFrame
) -> None:
    df = _per_customer(tiny_world, tiny_shipments)
    assert df.height == tiny_world.spec.n_customers
    target = tiny_world.spec.skus_per_customer
    assert abs(df["n_skus"].mean() - target) <= 0.25 * target


def test_discounts_are_confounded_with_sensitivity_and_scale(
    tiny_world: World, tiny_shipments: pl.DataFrame
) -> None:
    df = _per_customer(tiny_world, tiny_shipments)
    discount = df["mean_discount"].to_numpy()
    sensitivity = df["price_sensitivity_mean"].to_numpy()
    scale = np.log(df["business_scale"].to_numpy())
    assert np.corrcoef(discount, sensitivity)[0, 1] > 0.3
    assert np.corrcoef(discount, scale)[0, 1] > 0.3


def test_naive_price_volume_fit_is_biased(
    tiny_world: World, tiny_shipments: pl.DataFrame
) -> None:
    """Pooled log-units on log-price overstates elasticity: deep discounts went to big buyers."""
    df = tiny_shipments.filter(pl.col("units") > 0)
    x = np.log(df["unit_price"] / df["list_price"]).to_numpy()
    y = np.log(df["units"]).to_numpy()
    naive_slope = np.polyfit(x, y, 1)[0]
    true = tiny_world.true_elasticity(df["customer_id"], df["sku_id"],
                                      df["unit_price"].to_numpy(), df["month"])
    assert naive_slope < 2 * true.mean()


def test_units_are_non_negative_integers_with_some_zeros_allowed(
    tiny_shipments: pl.DataFrame,
) -> None:
    units = tiny_shipments["units"]
    assert units.dtype == pl.Int64 and units.min() >= 0
    assert units.n_unique() > 20


def test_discounts_vary_within_a_customer_over_time(tiny_shipments: pl.DataFrame) -> None:
    spread = tiny_shipments.group_by("customer_id", "sku_id").agg(pl.col("discount").n_unique())
    assert (spread["discount"] > 1).mean() > 0.5
