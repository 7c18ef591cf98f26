"""The evolutionary searcher (Appendix G) on a toy market whose best rule is known."""

import numpy as np

from deeprule.rules import decide, parse_program
from deeprule.search.evolve import EvolveConfig, evolve
from deeprule.search.objective import RULE_FEATURES, FitnessConfig, outcome
from tests.helpers.rules import toy_candidates

OPTIMUM = "def stock(row):\n    return True\ndef price(row):\n    return row.cost * 1.5\n"
"""Constant elasticity 3: the profit-maximizing price is 1.5 x cost on every row."""
NO_PENALTY = FitnessConfig(eta=0.0, lam=0.05)


def _profit(text: str) -> float:
    cand = toy_candidates()
    program = parse_program(text, RULE_FEATURES)
    return outcome(program, decide(program, cand.columns), cand, NO_PENALTY).profit


def test_evolution_finds_the_planted_optimum_from_the_expert_rule() -> None:
    cand = toy_candidates()
    result = evolve(cand, EvolveConfig(budget=400, seed=1, fitness=NO_PENALTY))
    start, best = result.iterations[0], result.best_outcome
    assert best.profit >= 0.97 * _profit(OPTIMUM)  # within 3% of the optimum
    assert best.profit >= 1.15 * start.profit  # the usual price is ~22% below it
    assert result.best_number > 0 and best.violations == 0
    statuses = [i.status for i in result.iterations]
    assert statuses[0] == "expert" and "improved" in statuses
    fitness = [i.fitness for i in result.iterations]
    assert all(b >= a for a, b in zip(fitness, fitness[1:], strict=False))  # elitist


def test_the_budget_counts_distinct_rules_and_a_seed_reproduces_the_run() -> None:
    cand = toy_candidates()
    config = EvolveConfig(budget=120, population=20, seed=3, fitness=NO_PENALTY)
    first, again = evolve(cand, config), evolve(cand, config)
    assert int(first.iterations[-1].note.split()[0]) <= 120
    assert [i.rule for i in first.iterations] == [i.rule for i in again.iterations]
    np.testing.assert_allclose([i.fitness for i in first.iterations],
                               [i.fitness for i in again.iterations])
