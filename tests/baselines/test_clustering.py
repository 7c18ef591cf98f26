"""Online clustering: planted clusters of SKUs are recovered and priced near their best price."""

import numpy as np

from deeprule.baselines.clustering import ClusteringSettings, ClusterProblem, run_clustering

N_SKUS, N_CUSTOMERS = 12, 40
PLANTED = np.repeat([0, 1], 6)
BETA = np.array([-2.5, -6.0])
"""Price sensitivity per planted cluster (per unit of price / list price)."""
SLOPES = np.array([[0.8, 0.3], [0.2, 0.7]])
COST_RATIO = 0.3


class PoissonMarket:
    """Units ~ Poisson(exp(a_i + s_cᵀx + β_c r)), c the SKU's planted cluster."""

    def __init__(self, problem: ClusterProblem, seed: int) -> None:
        self.problem = problem
        self.level = np.random.default_rng(99).uniform(1.5, 3.0, N_SKUS)
        self.rng = np.random.default_rng(seed)

    def expected(self, price: np.ndarray) -> np.ndarray:
        sku = self.problem.sku
        ratio = price / self.problem.list_price[sku]
        cluster = PLANTED[sku]
        score = (self.level[sku] + np.einsum("rj,rj->r", self.problem.context, SLOPES[cluster])
                 + BETA[cluster] * ratio)
        return np.exp(score)

    def respond(self, price: np.ndarray) -> np.ndarray:
        return self.rng.poisson(self.expected(price)).astype(float)


def _problem() -> ClusterProblem:
    rng = np.random.default_rng(0)
    sku = np.tile(np.arange(N_SKUS), N_CUSTOMERS)
    context = rng.normal(0, 0.5, (len(sku), 2))
    list_price = np.linspace(10, 40, N_SKUS)
    return ClusterProblem(sku, context, list_price, np.full(N_SKUS, COST_RATIO),
                          np.ones(N_SKUS), np.full(N_SKUS, COST_RATIO), np.full(N_SKUS, 0.9))


def test_clusters_are_recovered_and_priced_near_their_best_price() -> None:
    problem = _problem()
    market = PoissonMarket(problem, seed=1)
    result = run_clustering(problem, market, ClusteringSettings(rounds=80, seed=1))
    # the planted partition, up to label names
    same = result.labels[:, None] == result.labels[None]
    np.testing.assert_array_equal(same, PLANTED[:, None] == PLANTED[None])
    # (r − γ) exp(βr) is best at r = γ − 1/β
    best = COST_RATIO - 1 / BETA[PLANTED]
    assert np.all(np.abs(result.ratio - best) < 0.05), (result.ratio, best)
    assert np.all(np.abs(result.beta - BETA[PLANTED]) < 0.25 * np.abs(BETA[PLANTED]))

    def profit(ratio: np.ndarray) -> tuple[np.ndarray, float]:
        price = ratio[problem.sku] * problem.list_price[problem.sku]
        units = market.expected(price)
        return units, float(((price - COST_RATIO * problem.list_price[problem.sku])
                             * units).sum())

    truth, found = profit(result.ratio)
    assert found >= 0.99 * profit(best)[1]
    assert abs(result.units.sum() / truth.sum() - 1) < 0.1


def test_clustering_is_deterministic_for_a_seed() -> None:
    problem = _problem()
    runs = [run_clustering(problem, PoissonMarket(problem, seed=4),
                           ClusteringSettings(rounds=10, seed=3)).ratio for _ in range(2)]
    np.testing.assert_array_equal(*runs)
