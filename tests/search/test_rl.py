"""The reinforcement-learning searcher (Appendix G) on a toy market whose best rule is known."""

from dataclasses import replace

import torch

from deeprule.search.rl import RLConfig, reinforce
from deeprule.search.toy import TOY_OPTIMUM
from tests.helpers.rules import NO_PENALTY, spread_toy_candidates, toy_profit

CONFIG = RLConfig(budget=300, seed=1, fitness=NO_PENALTY)


def test_rl_finds_the_planted_optimum_the_fitted_expert_rule_misses() -> None:
    cand = spread_toy_candidates()
    result = reinforce(cand, CONFIG)
    best, start = result.best_outcome, result.iterations[0]
    optimum = toy_profit(TOY_OPTIMUM, cand)
    assert start.profit <= 0.95 * optimum  # the expert rule, its markup fitted
    assert best.profit >= 0.97 * optimum
    assert result.best_number > 0 and best.violations == 0
    assert "cost" in result.iterations[-1].rule or "list_price" in result.iterations[-1].rule
    fitness = [i.fitness for i in result.iterations]
    assert all(b >= a for a, b in zip(fitness, fitness[1:], strict=False))  # best so far


def test_one_iteration_per_distinct_rule_within_the_budget_and_a_seed_reproduces() -> None:
    config = replace(CONFIG, budget=40)
    threads = torch.get_num_threads()
    first, again = (reinforce(spread_toy_candidates(), config) for _ in range(2))
    other = reinforce(spread_toy_candidates(), replace(config, seed=2))
    assert len(first.iterations) == 40  # the expert rule and 39 new rules
    assert first.iterations[-1].note.endswith("40/40 rules scored")
    assert len({i.note.split("'")[1] for i in first.iterations[1:]}) == 39  # all distinct
    assert [i.note for i in first.iterations] == [i.note for i in again.iterations]
    assert [i.note for i in first.iterations] != [i.note for i in other.iterations]
    assert torch.get_num_threads() == threads  # the run's thread setting is undone
