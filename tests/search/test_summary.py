"""The phase summary: the LLM reads the search record and writes the paper's six points."""

from pathlib import Path

import pytest

from deeprule.llm import LLMClient, ResponseCache
from deeprule.llm.local import LocalBackend
from deeprule.llm.testing import ScriptedBackend
from deeprule.search.objective import FitnessConfig
from deeprule.search.reflect import SearchConfig, search
from deeprule.search.summary import phase_summary, summary_markdown
from resources.paths import data_dir
from tests.helpers.rules import SUMMARY, markup_rule, toy_candidates

START = "def stock(row):\n    return True\ndef price(row):\n    return row.usual_price\n"


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


@pytest.mark.slow
def test_the_real_local_model_writes_a_phase_summary(tmp_path: Path) -> None:
    """The default summary model (Gemma 3 270M) answers in the schema from a real record."""
    backend = LocalBackend(data_dir() / "models", max_tokens=400)
    client = LLMClient(backend, ResponseCache(tmp_path / "cache.duckdb"), timeout_s=180)
    summary, why = phase_summary(client, _result())
    assert why == "" and summary is not None
    assert summary.initial_approach.strip() and len(summary.key_features) <= 6
