"""The evolutionary searcher (Appendix G) on a toy market whose best rule is known."""

from pathlib import Path

import numpy as np
import pytest

from deeprule.search.checkpoint import Checkpoint
from deeprule.search.evolve import EvolveConfig, evolve
from deeprule.search.toy import TOY_OPTIMUM
from tests.helpers.rules import NO_PENALTY, toy_candidates, toy_profit


def test_evolution_finds_the_planted_optimum_from_the_expert_rule() -> None:
    cand = toy_candidates()
    result = evolve(cand, EvolveConfig(budget=400, seed=1, fitness=NO_PENALTY))
    start, best = result.iterations[0], result.best_outcome
    assert best.profit >= 0.97 * toy_profit(TOY_OPTIMUM)  # within 3% of the optimum
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


class _Killed(BaseException):
    """Stands in for kill -9 between two generations."""


def test_islands_evolve_apart_and_a_killed_run_resumes_to_the_same_end(tmp_path: Path) -> None:
    cand = toy_candidates()
    config = EvolveConfig(budget=200, population=40, islands=2, seed=2, fitness=NO_PENALTY)
    whole = evolve(cand, config)
    checkpoint = Checkpoint(tmp_path / "evolution.json", "rows")

    def dies(message: str) -> None:
        if message.startswith("generation 3"):
            raise _Killed

    with pytest.raises(_Killed):
        evolve(cand, config, progress=dies, checkpoint=checkpoint)
    resumed = evolve(cand, config, checkpoint=checkpoint)
    assert [(i.status, i.rule, i.note) for i in resumed.iterations] == [
        (i.status, i.rule, i.note) for i in whole.iterations]
    assert int(whole.iterations[-1].note.split()[0]) <= 200
    assert len(whole.iterations) >= 5  # the kill fell mid-run
    with pytest.raises(ValueError, match="islands"):
        evolve(cand, EvolveConfig(population=3, islands=2))
