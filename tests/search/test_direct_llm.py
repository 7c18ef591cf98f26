"""The direct-LLM ablation: rules as written, no fitting, no memory; the best is kept."""

from deeprule.llm import LLMClient
from deeprule.llm.testing import ScriptedBackend
from deeprule.llm.types import InvalidOutputError
from deeprule.search.direct_llm import DirectConfig, direct
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
