"""The direct-LLM ablation: rules as written, no fitting, no memory; the best is kept."""

from pathlib import Path

import pytest

from deeprule.llm import LLMClient, ResponseCache
from deeprule.llm.factory import LLMSettings
from deeprule.llm.local import LocalBackend
from deeprule.llm.models import QWEN_CODER
from deeprule.llm.testing import ScriptedBackend
from deeprule.llm.types import InvalidOutputError
from deeprule.search.direct_llm import DirectConfig, direct
from deeprule.search.searchers import SearchRequest, searcher
from resources.paths import data_dir
from tests.helpers.rules import NO_PENALTY, markup_rule, toy_candidates

CONFIG = DirectConfig(budget=5, fitness=NO_PENALTY)


def test_rules_are_scored_as_written_duplicates_are_free_and_the_best_is_kept() -> None:
    backend = ScriptedBackend([markup_rule(1.3), markup_rule(1.45), markup_rule(1.3),
                               markup_rule(1.1), markup_rule(1.45)])
    result = direct(LLMClient(backend, None), toy_candidates(), CONFIG)
    statuses = [i.status for i in result.iterations]
    assert statuses == ["expert", "improved", "improved", "duplicate", "kept", "duplicate"]
    assert result.best.constants[-1] == 1.45  # as written: not fitted to 1.5
    assert result.best_number == 2 and backend.calls == 5
    assert "by scripted/fake-model" in result.iterations[1].note


def test_no_prompt_carries_fitness_memory_and_each_asks_another_draw() -> None:
    backend = ScriptedBackend([markup_rule(1.3 + 0.01 * i) for i in range(5)])
    direct(LLMClient(backend, None), toy_candidates(), CONFIG)
    assert len({p.user for p in backend.prompts}) == 1  # the same question every time
    assert "fitness" not in backend.prompts[0].user.lower()
    assert backend.attempts == [0, 1, 2, 3, 4]


def test_a_failed_call_is_an_iteration_not_a_crash() -> None:
    bad = InvalidOutputError("no", 10, 5)
    backend = ScriptedBackend([bad, bad, bad, markup_rule(1.4)])
    result = direct(LLMClient(backend, None, max_retries=2, backoff_s=0.0), toy_candidates(),
                    DirectConfig(budget=4, fitness=NO_PENALTY))
    assert [i.status for i in result.iterations] == ["expert", "failed", "improved"]
    assert [i.llm_calls for i in result.iterations] == [0, 3, 1]  # the retries count in N


@pytest.mark.slow
def test_the_local_model_writes_the_ablations_rules_as_grammar_held_text(tmp_path: Path) -> None:
    """Through the registry, as the comparison runs it: Qwen2.5-Coder writes rule text under
    the grammar; every answer parses (no `failed` iteration) and names its writer."""
    backend = LocalBackend(data_dir() / "models", QWEN_CODER,
                           max_tokens=LLMSettings.rule_max_new_tokens)
    client = LLMClient(backend, ResponseCache(tmp_path / "cache.duckdb"), timeout_s=600)
    request = SearchRequest(budget=2, fitness=NO_PENALTY, rule_form="text")
    result = searcher("direct_llm").run(toy_candidates(), request, client, lambda _: None)
    written = result.iterations[1:]
    assert [i.status in ("improved", "kept", "duplicate") for i in written] == [True, True]
    assert {i.llm_model for i in written} == {backend.model}
    assert client.usage.requests() == sum(i.llm_calls for i in written) == 2
