"""The LLM client's logic against a scripted backend: cache, retries, budget, accounting."""

from pathlib import Path

import duckdb
import pytest
from pydantic import BaseModel, ConfigDict, Field

from deeprule.llm import (
    BudgetExhausted,
    CachedResponse,
    CircuitOpen,
    InvalidOutputError,
    LLMCallFailed,
    LLMClient,
    LLMError,
    Prompt,
    ResponseCache,
    TransientLLMError,
    cache_key,
)
from deeprule.llm.testing import ScriptedBackend
from deeprule.llm.types import PromptTooLong


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: str = Field(max_length=10)
    score: int = Field(ge=0, le=10)


GOOD = '{"label": "yes", "score": 3}'
PROMPT = Prompt(system="Classify.", user="some text")


def client(backend: ScriptedBackend, tmp_path: Path | None = None, **kwargs) -> LLMClient:
    cache = ResponseCache(tmp_path / "cache.duckdb") if tmp_path else None
    sleeps: list[float] = kwargs.pop("sleeps", [])
    return LLMClient(backend, cache, backoff_s=0.5, sleep=sleeps.append, **kwargs)


def test_validated_answer_and_accounting() -> None:
    llm = client(ScriptedBackend([GOOD]))
    result = llm.generate(PROMPT, Answer)
    assert result.value == Answer(label="yes", score=3)
    assert (result.record.prompt_tokens, result.record.completion_tokens) == (100, 20)
    assert llm.usage.summary()["llm_tokens_spent"] == 120


def test_cache_makes_repeat_calls_free(tmp_path: Path) -> None:
    first = ScriptedBackend([GOOD])
    with client(first, tmp_path) as llm:
        llm.generate(PROMPT, Answer)
    second = ScriptedBackend()  # would fail if asked anything
    with client(second, tmp_path) as llm:
        assert llm.prefetch([(PROMPT, Answer)]) == 1
        result = llm.generate(PROMPT, Answer)
    assert second.calls == 0 and result.record.cache_hit
    assert llm.usage.summary()["llm_cache_hits"] == 1
    assert llm.usage.spent_tokens == 0


def test_cache_key_separates_backend_model_settings_prompt_and_schema() -> None:
    class Other(Answer):
        extra: int = 0

    base = cache_key("local", "m", "s", PROMPT, Answer)
    variants = [
        cache_key("openai", "m", "s", PROMPT, Answer),
        cache_key("local", "m2", "s", PROMPT, Answer),
        cache_key("local", "m", "s2", PROMPT, Answer),
        cache_key("local", "m", "s", Prompt("Classify.", "other"), Answer),
        cache_key("local", "m", "s", PROMPT, Other),
    ]
    assert len({base, *variants}) == 6


def test_transient_and_invalid_outputs_are_retried_with_backoff() -> None:
    sleeps: list[float] = []
    backend = ScriptedBackend([TransientLLMError("503"), '{"label": "yes"}', GOOD])
    llm = client(backend, sleeps=sleeps, max_retries=2)
    result = llm.generate(PROMPT, Answer)
    assert result.record.attempts == 3 and backend.calls == 3
    assert sleeps == [0.5, 1.0]
    # the invalid attempt's tokens are charged too
    assert result.record.prompt_tokens == 200


def test_exhausted_retries_raise_with_a_failed_record() -> None:
    backend = ScriptedBackend(['{"label": "x", "score": 99}'] * 3)
    llm = client(backend, max_retries=2)
    with pytest.raises(LLMCallFailed, match="attempt 3") as info:
        llm.generate(PROMPT, Answer)
    assert not info.value.record.ok and info.value.record.attempts == 3
    assert llm.usage.summary()["llm_failed_calls"] == 1


def test_permanent_errors_are_not_retried() -> None:
    backend = ScriptedBackend([LLMError("401 unauthorized"), GOOD])
    with pytest.raises(LLMCallFailed):
        client(backend, max_retries=3).generate(PROMPT, Answer)
    assert backend.calls == 1


def test_budget_stops_before_the_next_call() -> None:
    backend = ScriptedBackend(responder=lambda p, s: GOOD, tokens_per_call=(100, 20))
    llm = client(backend, token_budget=230)
    llm.generate(Prompt("a", "1"), Answer)
    llm.generate(Prompt("a", "2"), Answer)
    with pytest.raises(BudgetExhausted):
        llm.generate(Prompt("a", "3"), Answer)
    assert backend.calls == 2 and llm.budget_left == 0


def test_a_retry_stopped_by_the_budget_still_charges_the_failed_attempts() -> None:
    backend = ScriptedBackend([InvalidOutputError("bad", 150, 60, requests=2), GOOD])
    llm = client(backend, token_budget=200, max_retries=2)
    with pytest.raises(BudgetExhausted):
        llm.generate(PROMPT, Answer)
    (record,) = llm.usage.records
    assert (record.prompt_tokens, record.completion_tokens, record.requests) == (150, 60, 2)
    assert not record.ok and backend.calls == 1 and llm.budget_left == 0


def test_budget_does_not_block_cache_hits(tmp_path: Path) -> None:
    with client(ScriptedBackend([GOOD]), tmp_path) as llm:
        llm.generate(PROMPT, Answer)
    llm = client(ScriptedBackend([GOOD]), tmp_path, token_budget=100)
    llm.generate(Prompt("a", "new"), Answer)  # spends 120 of 100
    assert llm.generate(PROMPT, Answer).record.cache_hit
    with pytest.raises(BudgetExhausted):
        llm.generate(Prompt("a", "newer"), Answer)


def test_stale_cache_entry_is_asked_again(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "cache.duckdb")
    llm = LLMClient(ScriptedBackend([GOOD]), cache)
    cache.put(CachedResponse(llm.key(PROMPT, Answer), "scripted", "fake-model", "Answer",
                             '{"label": "no"}', 1, 1))
    assert llm.generate(PROMPT, Answer).record.cache_hit is False


def test_invalid_output_error_carries_tokens() -> None:
    err = InvalidOutputError("bad", 7, 3)
    assert (err.prompt_tokens, err.completion_tokens) == (7, 3)


def test_cache_flushes_in_batches(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "c.duckdb", flush_every=2)
    backend = ScriptedBackend(responder=lambda p, s: GOOD)
    llm = LLMClient(backend, cache)
    llm.generate(Prompt("a", "1"), Answer)
    assert ResponseCache(tmp_path / "c.duckdb").size() == 0  # still buffered
    llm.generate(Prompt("a", "2"), Answer)
    assert ResponseCache(tmp_path / "c.duckdb").size() == 2


def test_samples_are_other_draws_cached_apart(tmp_path: Path) -> None:
    """`sample` shifts the backend's attempt number (the local one samples from attempt 1)."""
    attempts: list[int] = []

    class AttemptRecorder(ScriptedBackend):
        def generate(self, prompt, schema, timeout_s, attempt=0):
            attempts.append(attempt)
            return super().generate(prompt, schema, timeout_s, attempt)

    replies = [GOOD, '{"label": "no", "score": 1}']
    with client(AttemptRecorder(replies), tmp_path) as llm:
        greedy, drawn = llm.generate(PROMPT, Answer), llm.generate(PROMPT, Answer, sample=3)
        assert llm.key(PROMPT, Answer) != llm.key(PROMPT, Answer, sample=3)
    assert attempts == [0, 3] and greedy.value != drawn.value
    with client(ScriptedBackend(), tmp_path) as llm:  # both come back from the cache
        assert llm.generate(PROMPT, Answer, sample=3).value == drawn.value
        assert llm.generate(PROMPT, Answer).value == greedy.value


def test_the_same_error_n_times_in_a_row_opens_the_circuit_for_good() -> None:
    backend = ScriptedBackend(responder=lambda p, s: LLMError("HTTP 401: Unauthorized"))
    llm = client(backend, breaker_after=3)
    for i in range(2):
        with pytest.raises(LLMCallFailed):
            llm.generate(Prompt("s", f"doc {i}"), Answer)
    with pytest.raises(CircuitOpen, match="Most likely fix: OPENAI_API_KEY") as info:
        llm.generate(Prompt("s", "doc 2"), Answer)
    assert "scripted replies" in str(info.value) and "fake-model" in str(info.value)
    with pytest.raises(CircuitOpen):
        llm.generate(Prompt("s", "doc 3"), Answer)
    assert backend.calls == 3  # the open circuit sends nothing


def test_different_errors_or_a_success_between_them_keep_the_circuit_closed() -> None:
    script = [LLMError("a"), LLMError("b"), LLMError("a"), GOOD, LLMError("a"), LLMError("a")]
    llm = client(ScriptedBackend(script), breaker_after=2, max_retries=0)
    outcomes = []
    for i in range(len(script)):
        try:
            llm.generate(Prompt("s", f"doc {i}"), Answer)
            outcomes.append("ok")
        except CircuitOpen:
            outcomes.append("open")
        except LLMCallFailed:
            outcomes.append("failed")
    assert outcomes == ["failed", "failed", "failed", "ok", "failed", "open"]


def test_a_prompt_too_long_for_the_context_fails_at_once_without_retries() -> None:
    backend = ScriptedBackend([PromptTooLong("prompt of 3000 tokens + 400 exceed 2048", 3000)])
    llm = client(backend, max_retries=2)
    with pytest.raises(LLMCallFailed, match="PromptTooLong") as info:
        llm.generate(PROMPT, Answer)
    assert backend.calls == 1 and info.value.record.attempts == 1
    assert info.value.record.requests == 0  # refused before the model ran


BAD = '{"label": "yes", "score": 42}'
"""Fails validation (score above 10): the client asks again."""


def test_every_request_sent_is_counted_and_a_cached_answer_replays_its_count(
        tmp_path: Path) -> None:
    first = ScriptedBackend([BAD, GOOD])
    with client(first, tmp_path) as llm:
        record = llm.generate(PROMPT, Answer).record
    assert first.calls == 2 and (record.attempts, record.requests) == (2, 2)
    assert llm.usage.requests() == 2 and llm.usage.summary()["llm_requests"] == 2
    with client(ScriptedBackend(), tmp_path) as again:  # asked nothing: from the cache
        hit = again.generate(PROMPT, Answer).record
    assert hit.cache_hit and hit.requests == 2  # a rerun charges N as the first run did


def test_a_request_cap_stops_the_clients_retries() -> None:
    backend = ScriptedBackend([BAD, GOOD])
    with pytest.raises(LLMCallFailed) as info:
        client(backend, max_retries=2).generate(PROMPT, Answer, max_requests=1)
    assert backend.calls == 1 and info.value.record.requests == info.value.requests == 1


def test_a_backend_that_re_asks_itself_reports_every_request() -> None:
    backend = ScriptedBackend([InvalidOutputError("two bad answers", 10, 5, requests=2), GOOD])
    llm = client(backend, max_retries=1)
    assert llm.generate(PROMPT, Answer).record.requests == 3


def test_a_cache_written_before_request_counts_reads_as_one_request(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    with duckdb.connect(str(path)) as conn:  # the table as it was, without `requests`
        conn.execute("CREATE TABLE llm_cache (key VARCHAR PRIMARY KEY, backend VARCHAR, "
                     "model VARCHAR, schema_name VARCHAR, response VARCHAR, "
                     "prompt_tokens INTEGER, completion_tokens INTEGER, created_at TIMESTAMP)")
        conn.execute("INSERT INTO llm_cache VALUES ('k', 'b', 'm', 's', '{}', 1, 2, now())")
    assert ResponseCache(path).get_many(["k"])["k"].requests == 1
