"""The searcher registry: every searcher runs under the same request on the toy market."""

import json
import pkgutil
from dataclasses import replace
from importlib import import_module

import pytest

import deeprule.search
from deeprule.llm import LLMClient, Prompt
from deeprule.llm.factory import LLMSettings, make_clients
from deeprule.llm.testing import ScriptedBackend
from deeprule.rules import Program, render_program
from deeprule.search.objective import FitnessConfig
from deeprule.search.searchers import SEARCHERS, SearchRequest, searcher
from tests.helpers.rules import markup_rule, toy_candidates

MARKET = toy_candidates(wholesaler=2.0)
"""A toy market no single markup solves (on the plain one the reflection loop would stop at
once: the fitted expert rule is already within ε of the optimum everywhere)."""
REQUEST = SearchRequest(budget=6, seed=0, fitness=FitnessConfig(eta=0.0, lam=0.0))


def answer(prompt: Prompt, schema: type) -> str:
    """A rule for a rule proposal, the first allowed token for a tree-search node."""
    if schema.__name__ == "TokenAdvice":
        first = prompt.user.split("Allowed next tokens: ")[1].split(", ")[0]
        return json.dumps({"next_tokens": [first], "promise": 0.5})
    return markup_rule(1.3 + 0.01 * (len(prompt.user) % 7))


@pytest.fixture
def scored(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """Rule structures scored (constants blanked: fitting one structure is one rule)."""
    structures: set[str] = set()
    for info in pkgutil.iter_modules(deeprule.search.__path__):
        module = import_module(f"deeprule.search.{info.name}")
        original = getattr(module, "outcome", None)
        if original is None:
            continue

        def counting(program: Program, *args, original=original, **kwargs):
            structures.add(render_program(program, [0.0] * len(program.constants)))
            return original(program, *args, **kwargs)

        monkeypatch.setattr(module, "outcome", counting)
    return structures


@pytest.mark.parametrize("name", sorted(SEARCHERS))
def test_each_searcher_runs_within_its_budget_and_never_loses_the_expert_rule(
        name: str, scored: set[str]) -> None:
    chosen = searcher(name)
    backend = ScriptedBackend(responder=answer)
    client = LLMClient(backend, None) if chosen.uses_llm else None
    result = chosen.run(MARKET, REQUEST, client, lambda _: None)
    assert result.iterations[0].status == "expert"
    assert result.best_outcome.fitness >= result.iterations[0].fitness
    assert len(scored) >= 2  # the expert rule and at least one rule of the searcher's own
    assert len(scored) <= REQUEST.budget + chosen.uses_llm  # LLM searchers: N proposals
    assert backend.calls <= REQUEST.budget
    best = [i.fitness for i in result.iterations if i.fitness is not None]
    assert max(best) == pytest.approx(result.best_outcome.fitness)


def test_an_llm_searcher_without_a_client_and_an_unknown_name_are_clear_errors() -> None:
    for name in (n for n, s in SEARCHERS.items() if s.uses_llm):
        with pytest.raises(ValueError, match="pass a client"):
            searcher(name).run(MARKET, REQUEST, None, lambda _: None)
    with pytest.raises(ValueError, match="known: "):
        searcher("nope")


def test_another_seed_asks_the_llm_for_other_draws() -> None:
    first, second = ScriptedBackend([markup_rule(1.3)] * 2), ScriptedBackend([markup_rule(1.3)] * 2)
    for seed, backend in ((0, first), (1, second)):
        searcher("llm_reflection").run(MARKET, SearchRequest(budget=1, seed=seed),
                                       LLMClient(backend, None), lambda _: None)
    assert first.attempts[0] == 0 and second.attempts[0] >= 100_000


LLM_SEARCHERS = sorted(n for n, s in SEARCHERS.items() if s.uses_llm)
RULE_WRITERS = ("direct_llm", "llm_reflection")
"""The LLM searchers whose LLM writes whole rules (the tree search's ranks tokens)."""


def text_answer(prompt: Prompt, schema: type) -> str:
    """Rule text with near-miss names (`cots`, `hist_unit`) for a text-form proposal; the
    first allowed token for a tree-search node."""
    if schema.__name__ != "ReflectedRuleText":
        return answer(prompt, schema)
    markup = 1.3 + 0.01 * (len(prompt.user) % 7)
    return json.dumps({"reflection": "a markup on cost",
                       "rule": f"def stock(row):\n    return row.hist_unit > 0\n\n"
                               f"def price(row):\n    return row.cots * {markup}\n"})


@pytest.mark.parametrize("name", LLM_SEARCHERS)
def test_the_rule_form_reaches_every_searcher_whose_llm_writes_rules(name: str) -> None:
    schemas: list[str] = []

    def answering(prompt: Prompt, schema: type) -> str:
        schemas.append(schema.__name__)
        return text_answer(prompt, schema)

    backend = ScriptedBackend(responder=answering)
    result = searcher(name).run(MARKET, replace(REQUEST, budget=3, rule_form="text"),
                                LLMClient(backend, None), lambda _: None)
    if name in RULE_WRITERS:
        assert set(schemas) == {"ReflectedRuleText"}
        assert "def stock(row)" in backend.prompts[0].user + backend.prompts[0].system
        written = [i for i in result.iterations if i.llm_model]
        assert written and all(i.corrections == "read 'hist_unit' as 'hist_units'; "
                                                 "read 'cots' as 'cost'" for i in written)
        with pytest.raises(ValueError, match="unknown rule form"):
            searcher(name).run(MARKET, replace(REQUEST, rule_form="prose"),
                               LLMClient(ScriptedBackend(responder=answer), None),
                               lambda _: None)
    else:  # the tree search's LLM never writes a rule: the form does not apply
        assert set(schemas) == {"TokenAdvice"}


@pytest.mark.parametrize("name", LLM_SEARCHERS)
def test_several_clients_take_turns_and_each_iteration_names_its_writer(name: str) -> None:
    first = ScriptedBackend(responder=answer, model="model-a")
    second = ScriptedBackend(responder=answer, model="model-b")
    second.name = "other"
    clients = make_clients(LLMSettings(), "rule_proposal", (first, second))
    result = searcher(name).run(MARKET, REQUEST, clients, lambda _: None)
    assert first.calls and second.calls and abs(first.calls - second.calls) <= 1
    assert first.calls + second.calls <= REQUEST.budget
    writers = [(i.llm_backend, i.llm_model) for i in result.iterations[1:]]
    assert set(writers) <= {("scripted", "model-a"), ("other", "model-b"), ("", "")}
    assert {("scripted", "model-a"), ("other", "model-b")} <= set(writers)
    if name in RULE_WRITERS:  # one proposal per iteration, in turn
        assert [w[1] for w in writers] == ["model-a", "model-b"] * (len(writers) // 2) \
            + ["model-a"] * (len(writers) % 2)


def test_mcts_without_its_llm_sends_no_request_and_names_no_model() -> None:
    """The LLM ablation of the tree search: the same search, every node on the
    kind-balanced prior, so nothing in it can come from a model."""
    result = searcher("mcts_no_llm").run(MARKET, REQUEST, None, lambda _: None)
    searched = result.iterations[1:]
    assert searched and all(i.llm_calls == 0 and not i.llm_model for i in searched)
    assert all(i.prompt_tokens == 0 and i.completion_tokens == 0 for i in searched)
