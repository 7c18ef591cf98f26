"""Model-free robust pricing: a hand-built case, the worst case against an LP adversary, and
the OP-MIP against enumeration."""

import itertools

import numpy as np
from scipy.optimize import linprog

from deeprule.baselines.model_free import Transactions, robust_prices, worst_case

COST = np.array([2.0, 2.0])


def _hand_built() -> Transactions:
    """Three transactions over SKUs A (0) and B (1):
    1. bought A at 10 with B offered at 12;  2. bought A at 8 with B at 12;
    3. bought B at 12 with A offered at 10."""
    return Transactions(chosen=np.array([0, 0, 1]), paid=np.array([10.0, 8.0, 12.0]),
                        units=np.ones(3), offer_of=np.array([0, 1, 2]),
                        offer_sku=np.array([1, 1, 0]), offer_price=np.array([12.0, 12.0, 10.0]))


def test_the_robust_prices_of_the_hand_built_case() -> None:
    # By hand (profit = price − 2):
    # A=10, B=12: tx1 A kept, B's discount 0 >= A's 0 -> may switch: min(8, 10) = 8;
    #   tx2 walks (10 > 8): 0; tx3 B kept, A's discount 0 >= 0 -> min(10, 8) = 8. Total 16.
    # A=8, B=12: tx1 A's discount 2 > B's 0 -> stays: 6; tx2 may switch: min(6, 10) = 6;
    #   tx3 A's discount 2 >= B's 0 -> min(10, 6) = 6. Total 18: the robust optimum.
    grid = [np.array([8.0, 10.0]), np.array([12.0])]
    found = robust_prices(grid, COST, _hand_built(), "profit", 10.0)
    np.testing.assert_allclose(found.price, [8.0, 12.0])
    assert abs(found.objective - 18.0) < 1e-6
    np.testing.assert_allclose(worst_case(np.array([8.0, 12.0]), np.array([6.0, 10.0]),
                                          _hand_built()), [6.0, 6.0, 6.0])
    np.testing.assert_allclose(worst_case(np.array([10.0, 12.0]), np.array([8.0, 10.0]),
                                          _hand_built()), [8.0, 0.0, 8.0])


def _lp_adversary(price: np.ndarray, margin: np.ndarray, chosen: int, paid: np.ndarray
                  ) -> float:
    """min over valuations in the IC polyhedron of the seller's margin, by checking with an
    LP which outcome (each SKU, or no purchase) some valuation makes a rational choice."""
    n = len(price)
    ic = [np.eye(n)[j] - np.eye(n)[chosen] for j in range(n) if j != chosen]
    base_a = ic + [-np.eye(n)[chosen]]
    base_b = [paid[j] - paid[chosen] for j in range(n) if j != chosen] + [-paid[chosen]]
    outcomes = []
    for pick in range(n):
        a = [np.eye(n)[j] - np.eye(n)[pick] for j in range(n) if j != pick] + [-np.eye(n)[pick]]
        b = [price[j] - price[pick] for j in range(n) if j != pick] + [-price[pick]]
        outcomes.append((margin[pick], a, b))
    outcomes.append((0.0, list(np.eye(n)), list(price)))
    feasible = [value for value, a, b in outcomes
                if linprog(np.zeros(n), A_ub=np.array(base_a + a), b_ub=np.array(base_b + b),
                           bounds=[(0, None)] * n).status == 0]
    return min(feasible)


def test_the_closed_form_worst_case_matches_an_lp_adversary() -> None:
    rng = np.random.default_rng(0)
    for _ in range(40):
        paid = rng.uniform(5, 15, 3)
        price = rng.uniform(5, 15, 3)
        chosen = int(rng.integers(3))
        others = np.array([j for j in range(3) if j != chosen])
        deals = Transactions(np.array([chosen]), paid[[chosen]], np.ones(1),
                             np.zeros(2, dtype=int), others, paid[others])
        margin = price - 2.0
        assert abs(worst_case(price, margin, deals)[0]
                   - _lp_adversary(price, margin, chosen, paid)) < 1e-9


def test_the_op_mip_matches_enumeration_on_random_instances() -> None:
    rng = np.random.default_rng(1)
    for _ in range(5):
        n_tx, n_sku = 25, 3
        chosen = rng.integers(n_sku, size=n_tx)
        paid = rng.uniform(6, 14, n_tx)
        offer_of = np.repeat(np.arange(n_tx), n_sku - 1)
        offer_sku = np.array([j for c in chosen for j in range(n_sku) if j != c])
        deals = Transactions(chosen, paid, rng.integers(1, 5, n_tx).astype(float), offer_of,
                             offer_sku, rng.uniform(6, 14, len(offer_of)))
        cost = np.full(n_sku, 4.0)
        grid = [np.unique(np.round(rng.uniform(6, 14, 4), 1)) for _ in range(n_sku)]
        found = robust_prices(grid, cost, deals, "profit", 10.0)
        best = max(float(deals.units @ worst_case(np.array(p), np.array(p) - cost, deals))
                   for p in itertools.product(*grid))
        assert abs(found.objective - best) < 1e-6 * max(best, 1.0)
        achieved = deals.units @ worst_case(found.price, found.price - cost, deals)
        assert abs(achieved - best) < 1e-6 * max(best, 1.0)
