"""Low-rank bandit: on a planted low-rank linear demand it finds the best prices."""

import numpy as np

from deeprule.baselines.lowrank import LowRankSettings, lowrank_pricing
from tests.helpers.baselines import catalogue, month_of, shipments

BLOCKS = np.repeat([0, 1], 6)
INTERCEPT = np.array([1.2, 1.0])
"""Per block: demand ∝ intercept − mean price ratio of the block (slope 1)."""
COST_RATIO = 0.3
N_CUSTOMERS = 3


class LinearMarket:
    """Units of SKU i (per customer): w (c_b − r̄_b) / list_i, r̄_b the block's mean price
    ratio: rank-2 demand in revenue units; Poisson sampled."""

    def __init__(self, sku: np.ndarray, list_price: np.ndarray, seed: int) -> None:
        self.sku, self.list_price = sku, list_price
        self.rng = np.random.default_rng(seed)

    def expected(self, price: np.ndarray) -> np.ndarray:
        ratio = np.bincount(self.sku, weights=price / self.list_price[self.sku]) / N_CUSTOMERS
        block = np.array([ratio[b == BLOCKS].mean() for b in (0, 1)])
        per_sku = 6000.0 * (INTERCEPT[BLOCKS] - block[BLOCKS]) / self.list_price
        return np.maximum(per_sku[self.sku], 0.0)

    def respond(self, price: np.ndarray) -> np.ndarray:
        return self.rng.poisson(self.expected(price)).astype(float)


def _month():
    list_price = 20.0 + 5.0 * np.arange(12)
    skus = catalogue(list_price, COST_RATIO * list_price, ["A"] * 6 + ["B"] * 6)
    rng = np.random.default_rng(1)
    ratio = np.clip(0.9 + rng.normal(0, 0.03, (4, N_CUSTOMERS, 12)), 0.3, 1.0)
    block = np.stack([ratio[:, :, b == BLOCKS].mean(axis=2) for b in (0, 1)], axis=2)
    units = rng.poisson(2000.0 * (INTERCEPT[BLOCKS] - block[:, :, BLOCKS]) / list_price + 1)
    return month_of(shipments(units, ratio, skus), skus, N_CUSTOMERS), list_price


def test_the_bandit_finds_the_best_block_prices_of_a_low_rank_linear_demand() -> None:
    month, list_price = _month()
    sku = np.tile(np.arange(12), N_CUSTOMERS)
    market = LinearMarket(sku, list_price, seed=3)
    pricing = lowrank_pricing(month, market, LowRankSettings(rank=2, rounds=120, seed=0))
    ratio = pricing.price / month.list_price
    # profit Σ (r − γ)(c_b − r̄_b) per block is best at r̄_b = (c_b + γ) / 2
    best = (INTERCEPT + COST_RATIO) / 2
    found = np.array([ratio[np.isin(sku, np.flatnonzero(b == BLOCKS))].mean() for b in (0, 1)])
    assert np.all(np.abs(found - best) < 0.04), (found, best)

    def profit(price: np.ndarray) -> float:
        return float(((price - month.cost) * market.expected(price)).sum())

    assert profit(pricing.price) >= 0.98 * profit(np.repeat(best[BLOCKS], 1)[sku]
                                                  * month.list_price)
    # its expected units are the model's: close to the truth at the chosen prices
    truth = market.expected(pricing.price)
    assert abs(pricing.units.sum() / truth.sum() - 1) < 0.1


def test_the_bandit_is_deterministic_for_a_seed() -> None:
    month, list_price = _month()
    sku = np.tile(np.arange(12), N_CUSTOMERS)
    runs = [lowrank_pricing(month, LinearMarket(sku, list_price, seed=5),
                            LowRankSettings(rank=2, rounds=30, seed=2)).price for _ in range(2)]
    np.testing.assert_array_equal(*runs)
