"""Extraction through the openai backend against a real local HTTP server that fakes one:
mode fallback, circuit breaker, resuming, validation feedback, truthful progress."""

import json

import polars as pl
import pytest

from deeprule.llm import LLMClient
from deeprule.llm.openai_backend import OpenAIBackend
from deeprule.priors.extract import OK, PENDING, plan_extraction, run_extraction
from tests.helpers.openai_server import LLAMA_CPP_REJECTION, completion, serving
from tests.helpers.priors import VOCAB, true_replies


@pytest.fixture(autouse=True)
def no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


def like_llama_cpp(replies: dict[str, str]):
    """Refuses json_schema as llama-cpp-python's server does; answers the truth otherwise."""
    def answer(body: dict) -> tuple[int, dict]:
        if (body.get("response_format") or {}).get("type") == "json_schema":
            return 500, LLAMA_CPP_REJECTION
        return 200, completion(replies[body["messages"][1]["content"]])
    return answer


def extract(docs: pl.DataFrame, url: str, previous=None, progress=None, **backend_kwargs):
    backend = OpenAIBackend("fake-model", url, **backend_kwargs)
    client = LLMClient(backend, None, max_retries=1, sleep=lambda s: None)
    plan = plan_extraction(docs, previous, backend=backend.name, model=backend.model)
    lines: list[str] = []
    run = run_extraction(plan, docs, client, VOCAB, "run", progress=progress or lines.append)
    return run, client, lines


def progress_line(lines: list[str]) -> str:
    return [line for line in lines if "attempted" in line][-1]


def test_a_response_format_rejection_falls_back_to_json_object_and_is_recorded(
        docs, facts) -> None:
    with serving(like_llama_cpp(true_replies(docs, facts))) as (server, url):
        run, client, _ = extract(docs, url, max_tokens=160)
    assert run.table["status"].to_list() == [OK] * docs.height
    assert {r["max_tokens"] for r in server.requests} == {160}  # no server runs to n_ctx
    assert server.response_formats == ["json_schema"] + ["json_object"] * docs.height
    assert client.usage.summary()["llm_mode"] == "json"
    assert "response_format" in client.backend.fallbacks[0]
    system = server.requests[1]["messages"][0]["content"]
    assert "Answer with one JSON object" in system and "at most" in system


def test_identical_failures_trip_the_breaker_leave_documents_pending_and_a_rerun_resumes(
        docs, facts) -> None:
    broken = True
    replies = true_replies(docs, facts)

    def answer(body: dict) -> tuple[int, dict]:
        if broken:
            return 404, {"error": {"message": "model 'fake-model' not found",
                                   "code": "model_not_found"}}
        return 200, completion(replies[body["messages"][1]["content"]])

    with serving(answer) as (server, url):
        first, _, lines = extract(docs, url)
        assert len(server.requests) == 3  # 3 calls (permanent errors are not retried)
        assert first.stopped_by == "circuit_breaker"
        assert first.table["status"].to_list() == [PENDING] * docs.height
        assert url in first.halted and "fake-model" in first.halted
        assert "Most likely fix: DEEPRULE_LLM_MODEL" in first.halted
        assert "0 attempted, 0 ok, 0 failed, 6 pending of 6" in progress_line(lines)

        broken = False
        second, _, lines = extract(docs, url, previous=first.table)
    assert second.table["status"].to_list() == [OK] * docs.height
    assert "6 attempted, 6 ok, 0 failed, 0 pending of 6" in progress_line(lines)


def test_an_invalid_answer_is_sent_back_with_the_validator_message(docs, facts) -> None:
    profile = docs.filter(pl.col("doc_type") == "profile").head(1)
    good = next(iter(true_replies(profile, facts).values()))
    too_many = json.dumps({**json.loads(good), "core_brands": list(VOCAB.brands) * 2})
    answers = iter([too_many, good])
    with serving(lambda body: (200, completion(next(answers)))) as (server, url):
        run, _, _ = extract(profile, url, mode="json")
    assert run.table["status"].to_list() == [OK]
    first, retry = server.requests
    assert '"core_brands": list of (' in first["messages"][0]["content"]
    assert "at most 4 items" in first["messages"][0]["content"]
    assert retry["messages"][2] == {"role": "assistant", "content": too_many}
    feedback = retry["messages"][3]["content"]
    assert "core_brands" in feedback and "at most 4 items" in feedback


def test_plain_json_in_markdown_is_the_last_fallback(docs, facts) -> None:
    replies = true_replies(docs, facts)

    def answer(body: dict) -> tuple[int, dict]:
        if body.get("response_format"):
            return 400, {"error": {"message": "response_format is not supported"}}
        return 200, completion(f"Sure:\n```json\n{replies[body['messages'][1]['content']]}\n```")

    with serving(answer) as (server, url):
        run, client, _ = extract(docs, url)
    assert run.table["status"].to_list() == [OK] * docs.height
    assert server.response_formats[:3] == ["json_schema", "json_object", "none"]
    assert client.usage.summary()["llm_mode"] == "md_json"
