"""The indexed affiliation equals the all-pairs reference, and its rules hold on small cases."""

import numpy as np
import polars as pl
import pytest

from deeprule.features.demographics import (
    affiliation_inputs,
    build_affiliation,
    customer_demographics,
)
from deeprule.geo.affiliation import (
    AffiliationInputs,
    AffiliationParams,
    Pairs,
    TreeSearch,
    affiliate,
    estimate_alpha,
    weigh_pairs,
)
from deeprule.geo.profile import prior_targets
from deeprule.geo.reference import BruteForceSearch


def clustered_inputs(n_stores: int, n_customers: int, seed: int) -> AffiliationInputs:
    """Stores and customers around a few cities plus scattered stores; random priors."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform([25.0, 105.0], [40.0, 120.0], size=(6, 2))

    def around(n: int, spread_deg: float) -> tuple[np.ndarray, np.ndarray]:
        city = rng.integers(0, len(centres), n)
        pos = centres[city] + rng.normal(0.0, spread_deg, (n, 2))
        return pos[:, 0], pos[:, 1]

    s_lat, s_lon = around(n_stores, 0.25)
    far = rng.random(n_stores) < 0.1
    s_lat[far] = rng.uniform(25.0, 40.0, far.sum())
    s_lon[far] = rng.uniform(105.0, 120.0, far.sum())
    c_lat, c_lon = around(n_customers, 0.2)
    scale = np.exp(rng.normal(3.5, 0.8, n_customers))
    scale[:3] = 0.0  # zero-scale customers reach nothing
    return AffiliationInputs(
        store_lat=s_lat, store_lon=s_lon, customer_lat=c_lat, customer_lon=c_lon, scale=scale,
        store_axes=rng.normal(0.0, 0.45, (n_stores, 2)),
        targets=rng.choice([-1.0, 0.0, 1.0], size=(n_customers, 2)),
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tree_search_equals_brute_force(seed: int) -> None:
    inputs = clustered_inputs(4_000, 150, seed)
    params = AffiliationParams(coverage_target=0.85, theta=0.6)
    fast = affiliate(inputs, params)
    slow = affiliate(inputs, params, search=BruteForceSearch())
    assert fast.alpha == pytest.approx(slow.alpha, rel=1e-12)
    np.testing.assert_array_equal(fast.pairs.store, slow.pairs.store)
    np.testing.assert_array_equal(fast.pairs.customer, slow.pairs.customer)
    np.testing.assert_allclose(fast.pairs.distance_km, slow.pairs.distance_km, rtol=1e-12)
    np.testing.assert_array_equal(fast.exclusive, slow.exclusive)
    np.testing.assert_allclose(fast.weight, slow.weight, rtol=1e-12)
    assert fast.exclusive.any() and (~fast.covered_stores()).any()


def test_fixed_alpha_pairs_equal_brute_force() -> None:
    inputs = clustered_inputs(3_000, 120, seed=5)
    params = AffiliationParams(alpha=0.4)
    fast_alpha, fast = TreeSearch().covering_pairs(inputs, params)
    slow_alpha, slow = BruteForceSearch().covering_pairs(inputs, params)
    assert fast_alpha == slow_alpha == 0.4
    fast, slow = fast.sorted(inputs.n_customers), slow.sorted(inputs.n_customers)
    np.testing.assert_array_equal(fast.store, slow.store)
    np.testing.assert_array_equal(fast.customer, slow.customer)


def test_alpha_is_the_smallest_reaching_the_coverage_target() -> None:
    inputs = clustered_inputs(2_000, 80, seed=3)
    target = 0.7
    result = affiliate(inputs, AffiliationParams(coverage_target=target))
    assert result.covered_stores().mean() >= target
    _, fewer = TreeSearch().covering_pairs(
        inputs, AffiliationParams(alpha=result.alpha * (1 - 1e-9)))
    assert np.unique(fewer.store).size / inputs.n_stores < target


def test_estimate_alpha_quantile_rule() -> None:
    ratios = np.array([4.0, 1.0, np.inf, 3.0, 2.0])
    assert estimate_alpha(ratios, 0.4) == 2.0
    assert estimate_alpha(ratios, 0.8) == 4.0
    assert estimate_alpha(ratios, 1.0) == 4.0  # unreachable stores cannot be covered
    assert estimate_alpha(np.full(3, np.inf), 0.5) == 0.0


def test_shared_store_weights_follow_scale_over_squared_distance() -> None:
    pairs = Pairs(store=np.array([0, 0, 1]), customer=np.array([0, 1, 1]),
                  distance_km=np.array([2.0, 4.0, 0.0]))
    scale = np.array([10.0, 80.0])
    weight, exclusive = weigh_pairs(pairs, np.zeros(3), scale, 2, AffiliationParams())
    a, b = 10.0 / 2.0**2, 80.0 / 4.0**2
    np.testing.assert_allclose(weight, [a / (a + b), b / (a + b), 1.0])
    assert not exclusive.any()


def test_similar_prior_takes_the_store_exclusively() -> None:
    pairs = Pairs(store=np.array([0, 0, 0, 1, 1]), customer=np.array([0, 1, 2, 0, 1]),
                  distance_km=np.array([1.0, 1.0, 1.0, 1.0, 1.0]))
    similarity = np.array([0.2, 0.9, 0.7, 0.65, 0.65])
    weight, exclusive = weigh_pairs(pairs, similarity, np.array([1.0, 1.0, 5.0]), 2,
                                    AffiliationParams(theta=0.6))
    # store 0: customer 1 is most similar; store 1: a tie goes to the larger s/d^2 (equal
    # here, so the first), and the other coverer keeps nothing
    np.testing.assert_array_equal(exclusive, [False, True, False, True, False])
    np.testing.assert_array_equal(weight, [0.0, 1.0, 0.0, 1.0, 0.0])


def test_prior_mapping_and_neutral_prior() -> None:
    priors = pl.DataFrame({
        "customer_id": ["a", "b", "c"],
        "price_sensitivity": [1.0, 0.0, None],
        "scale_band": ["large", "Small", "unknown band"],
    })
    targets = prior_targets(["a", "b", "c", "d"], priors)
    np.testing.assert_allclose(targets.values, [[-1.0, 1.0], [1.0, -1.0], [0, 0], [0, 0]])
    np.testing.assert_array_equal(targets.neutral, [False, False, True, True])
    assert prior_targets(["x"], None).n_neutral == 1


def _frames(inputs: AffiliationInputs) -> tuple[pl.DataFrame, pl.DataFrame]:
    rng = np.random.default_rng(0)
    n = inputs.n_stores
    young = rng.uniform(0.2, 0.4, n)
    old = rng.uniform(0.1, 0.3, n)
    stores = pl.DataFrame({
        "store_id": [f"S{i:05d}" for i in range(n)],
        "latitude": inputs.store_lat, "longitude": inputs.store_lon,
        "city": ["x"] * n,
        "population": rng.uniform(1e3, 2e4, n), "median_income": rng.uniform(3e4, 9e4, n),
        "share_age_under_30": young, "share_age_30_55": 1 - young - old,
        "share_age_over_55": old, "floor_area_sqm": rng.uniform(50, 900, n),
    })
    customers = pl.DataFrame({
        "customer_id": [f"C{k:04d}" for k in range(inputs.n_customers)],
        "latitude": inputs.customer_lat, "longitude": inputs.customer_lon,
        "business_scale": inputs.scale,
    })
    return stores, customers


def test_demographics_sql_matches_numpy_and_reports_the_left_out() -> None:
    inputs = clustered_inputs(1_500, 60, seed=4)
    stores, customers = _frames(inputs)
    priors = pl.DataFrame({"customer_id": ["C0010", "C0011"], "price_sensitivity": [0.9, 0.1],
                           "scale_band": ["large", None]})
    table, summary = build_affiliation(stores, customers, priors, AffiliationParams())
    assert set(table["store_id"]) == set(stores["store_id"])  # nobody dropped
    uncovered = table.filter(~pl.col("covered"))
    assert uncovered.height == summary.uncovered_stores > 0
    assert uncovered["customer_id"].null_count() == uncovered.height
    assert summary.neutral_prior_customers == inputs.n_customers - 2

    demo = customer_demographics(table, stores, customers, summary.alpha)
    assert demo["customer_id"].to_list() == customers["customer_id"].to_list()
    assert int(demo["storeless"].sum()) == summary.customers_without_stores >= 3
    assert demo.filter(pl.col("storeless"))["mean_median_income"].null_count() == int(
        demo["storeless"].sum())

    ref_inputs, _ = affiliation_inputs(stores, customers, priors)
    ref = affiliate(ref_inputs, AffiliationParams(), search=BruteForceSearch())
    assert ref.alpha == pytest.approx(summary.alpha, rel=1e-12)
    income = stores["median_income"].to_numpy()[ref.pairs.store]
    g_income = np.bincount(ref.pairs.customer, weights=ref.weight * income,
                           minlength=inputs.n_customers)
    np.testing.assert_allclose(demo["g_median_income"], g_income, rtol=1e-9, atol=1e-6)
    assert demo["n_exclusive_stores"].sum() == ref.exclusive.sum() == summary.exclusive_stores


def test_degenerate_inputs_give_empty_affiliations() -> None:
    inputs = clustered_inputs(50, 5, seed=9)
    nobody = AffiliationInputs(**{**vars(inputs), "scale": np.zeros(5)})
    result = affiliate(nobody, AffiliationParams())
    assert result.alpha == 0.0 and result.pairs.store.size == 0
    assert not result.covered_stores().any()
    no_stores = AffiliationInputs(**{
        **vars(inputs), "store_lat": np.zeros(0), "store_lon": np.zeros(0),
        "store_axes": np.zeros((0, 2))})
    assert affiliate(no_stores, AffiliationParams()).pairs.store.size == 0
