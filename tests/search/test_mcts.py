"""The LLM-guided tree search (SR-GPT): scripted advice for the logic, the local model once."""

import json
from pathlib import Path

import pytest

from deeprule.llm import LLMClient, Prompt, ResponseCache
from deeprule.llm.factory import LLMSettings
from deeprule.llm.local import LocalBackend
from deeprule.llm.models import QWEN_CODER
from deeprule.llm.testing import ScriptedBackend
from deeprule.search.mcts import MCTSConfig, advice_prompt, advice_schema, tree_search
from deeprule.search.tokens import Grammar, Partial
from deeprule.search.toy import TOY_OPTIMUM
from resources.paths import data_dir
from tests.helpers.rules import NO_PENALTY, spread_toy_candidates, toy_profit

CONFIG = MCTSConfig(budget=50, fitness=NO_PENALTY)


def _legal(prompt: Prompt) -> list[str]:
    return prompt.user.split("Allowed next tokens: ")[1].split("\n")[0].split(", ")


def guide(prompt: Prompt, schema: type) -> str:
    """An LLM that knows the answer: multiply the cost by a number."""
    legal = _legal(prompt)
    return json.dumps({"next_tokens": [t for t in ("*", "cost", "number") if t in legal],
                       "promise": 0.8})


def mislead(prompt: Prompt, schema: type) -> str:
    """An LLM that always advises the first allowed token (`+`, or the first feature)."""
    return json.dumps({"next_tokens": _legal(prompt)[:1], "promise": 0.5})


def _share_using(result, op: str) -> float:
    """Share of the rules scored (after the expert's) whose price uses operator `op`."""
    prices = [i.note.split("def price(row): return ")[1].split("'")[0]
              for i in result.iterations[1:]]
    return sum(f" {op} " in p for p in prices) / len(prices)


def test_good_advice_finds_the_planted_optimum_within_a_few_rules() -> None:
    cand = spread_toy_candidates()
    client = LLMClient(ScriptedBackend(responder=guide), None)
    result = tree_search(client, cand, CONFIG)
    optimum = toy_profit(TOY_OPTIMUM, cand)
    assert result.iterations[0].profit <= 0.95 * optimum  # the fitted expert rule
    assert result.best_outcome.profit >= 0.97 * optimum
    assert result.best_number <= 20
    assert 'row["cost"]' in result.iterations[-1].rule
    assert "priors by scripted/fake-model" in result.iterations[result.best_number].note


def test_the_rules_scored_follow_the_llm_priors() -> None:
    guided = tree_search(LLMClient(ScriptedBackend(responder=guide), None),
                         spread_toy_candidates(), CONFIG)
    misled = tree_search(LLMClient(ScriptedBackend(responder=mislead), None),
                         spread_toy_candidates(), CONFIG)
    assert _share_using(guided, "*") >= _share_using(misled, "*") + 0.3
    assert _share_using(misled, "+") >= _share_using(guided, "+") + 0.3


def test_llm_calls_are_bounded_and_a_rerun_is_answered_by_the_cache(tmp_path: Path) -> None:
    config = MCTSConfig(budget=30, max_llm_calls=8, fitness=NO_PENALTY)
    first = ScriptedBackend(responder=guide)
    cache = ResponseCache(tmp_path / "cache.duckdb")
    result = tree_search(LLMClient(first, cache), spread_toy_candidates(), config)
    assert first.calls == 8
    assert len(result.iterations) <= 30 and "30/30 rules scored" in result.iterations[-1].note
    assert sum(i.prompt_tokens for i in result.iterations) == 8 * 100  # tokens accounted
    again = ScriptedBackend()  # no replies at all: any backend call would fail the test
    rerun = tree_search(LLMClient(again, cache), spread_toy_candidates(), config)
    assert again.calls == 0
    assert [i.rule for i in rerun.iterations] == [i.rule for i in result.iterations]


def test_the_advice_schema_admits_only_legal_tokens() -> None:
    state = Partial(Grammar(("cost", "usual_price"), 3, 5)).then("cost").then("+").then("+")
    schema = advice_schema(state.legal())
    assert schema.model_validate_json('{"next_tokens": ["cost"], "promise": 0.3}')
    for bad in ('{"next_tokens": ["*"], "promise": 0.3}',  # no room for an operator
                '{"next_tokens": ["cost"], "promise": 1.5}',
                '{"next_tokens": [], "promise": 0.3}',
                '{"next_tokens": ["cost", "cost", "cost", "cost"], "promise": 0.3}'):
        with pytest.raises(ValueError):
            schema.model_validate_json(bad)
    prompt = advice_prompt(state, "def price(row):\n    return row.usual_price\n")
    assert "price: + +" in prompt.user and "row.usual_price" in prompt.system


@pytest.mark.slow
def test_the_local_model_advises_the_tree_search(tmp_path: Path) -> None:
    """Qwen2.5-Coder answers the advice schema under its grammar; every answer is used."""
    backend = LocalBackend(data_dir() / "models", QWEN_CODER,
                           max_tokens=LLMSettings.rule_max_new_tokens)
    client = LLMClient(backend, ResponseCache(tmp_path / "cache.duckdb"), timeout_s=600)
    config = MCTSConfig(budget=8, max_llm_calls=3, fitness=NO_PENALTY)
    result = tree_search(client, spread_toy_candidates(), config)
    calls = client.usage.summary()
    assert calls["llm_calls"] == 3 and calls["llm_failed_calls"] == 0
    assert calls["llm_completion_tokens"] > 0
    assert any("priors by local/" in i.note for i in result.iterations)
    assert len(result.iterations) <= 8
    assert result.best_outcome.fitness >= result.iterations[0].fitness
