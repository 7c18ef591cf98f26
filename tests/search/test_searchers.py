"""The searcher registry: every searcher runs under the same request on the toy market."""

import pytest

from deeprule.llm import LLMClient
from deeprule.llm.testing import ScriptedBackend
from deeprule.search.objective import FitnessConfig
from deeprule.search.searchers import SEARCHERS, SearchRequest, searcher
from tests.helpers.rules import markup_rule, toy_candidates

MARKET = toy_candidates(wholesaler=2.0)
"""A toy market no single markup solves (on the plain one the reflection loop would stop at
once: the fitted expert rule is already within ε of the optimum everywhere)."""
REQUEST = SearchRequest(budget=3, seed=0, fitness=FitnessConfig(eta=0.0, lam=0.0))


@pytest.mark.parametrize("name", sorted(SEARCHERS))
def test_each_searcher_runs_within_its_budget_and_never_loses_the_expert_rule(name: str) -> None:
    chosen = searcher(name)
    backend = ScriptedBackend([markup_rule(1.3, base=base)
                               for base in ("cost", "market_price", "list_price")])
    client = LLMClient(backend, None) if chosen.uses_llm else None
    result = chosen.run(MARKET, REQUEST, client, lambda _: None)
    assert result.iterations[0].status == "expert"
    assert result.best_outcome.fitness >= result.iterations[0].fitness
    if chosen.uses_llm:
        assert len(backend.prompts) <= REQUEST.budget


def test_an_llm_searcher_without_a_client_and_an_unknown_name_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="pass a client"):
        searcher("llm_reflection").run(MARKET, REQUEST, None, lambda _: None)
    with pytest.raises(ValueError, match="known: "):
        searcher("nope")


def test_another_seed_asks_the_llm_for_other_draws() -> None:
    first, second = ScriptedBackend([markup_rule(1.3)] * 2), ScriptedBackend([markup_rule(1.3)] * 2)
    for seed, backend in ((0, first), (1, second)):
        searcher("llm_reflection").run(MARKET, SearchRequest(budget=1, seed=seed),
                                       LLMClient(backend, None), lambda _: None)
    assert first.attempts[0] == 0 and second.attempts[0] >= 100_000
