"""The phase summary: the LLM reads the search record and writes the paper's six points."""

import json

from deeprule.llm import LLMClient
from deeprule.llm.testing import ScriptedBackend
from deeprule.search.objective import FitnessConfig
from deeprule.search.reflect import SearchConfig, search
from deeprule.search.summary import phase_summary, summary_markdown
from tests.helpers.rules import markup_rule, toy_candidates

START = "def stock(row):\n    return True\ndef price(row):\n    return row.usual_price\n"
SUMMARY = json.dumps({
    "initial_approach": "usual price everywhere", "improvements": "a 1.3 x cost markup",
    "fitness_trend": "rose once, then flat", "final_performance": "profit +20 %",
    "key_features": ["cost"], "limitations": "one markup for every customer"})


def _result():
    config = SearchConfig(iterations=2, fitness=FitnessConfig(eta=0.0, lam=0.0))
    backend = ScriptedBackend([markup_rule(1.3), markup_rule(1.2)])
    return search(LLMClient(backend, None), toy_candidates(), config, start=START)


def test_the_summary_prompt_carries_every_iteration_and_the_answer_is_kept() -> None:
    result = _result()
    backend = ScriptedBackend([SUMMARY])
    summary, why = phase_summary(LLMClient(backend, None), result)
    assert why == "" and summary is not None and summary.key_features == ["cost"]
    record = backend.prompts[0].user
    assert all(f"iteration {i.number} [{i.status}]" in record for i in result.iterations)
    assert f"best rule came from iteration {result.best_number}" in record
    assert "**Key features.** cost" in summary_markdown(summary)


def test_a_failed_summary_is_reported_not_raised() -> None:
    backend = ScriptedBackend(["not json"] * 5)
    summary, why = phase_summary(LLMClient(backend, None, max_retries=1), _result())
    assert summary is None and why.startswith("no phase summary")
