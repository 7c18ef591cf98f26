"""LLM endpoint failures through a real HTTP server on 127.0.0.1 (a tiny fake
OpenAI-compatible endpoint): every fault is retried a bounded number of times with
doubling backoff (or after the wait a 429's Retry-After asks, up to a cap), then recorded
as a failed call; an answer after faults is kept."""

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pydantic import BaseModel, ConfigDict, Field

from deeprule.llm import LLMClient
from deeprule.llm.openai_backend import OpenAIBackend, retry_after_seconds
from deeprule.llm.types import LLMCallFailed, Prompt

TIMEOUT_S = 0.5


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    score: int = Field(ge=0, le=10)


def _completion(content: str) -> bytes:
    return json.dumps({
        "id": "c1", "object": "chat.completion", "created": 0, "model": "m",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": 20, "completion_tokens": 4, "total_tokens": 24},
    }).encode()


class FakeEndpoint(BaseHTTPRequestHandler):
    """Answers each POST with the next scripted fault (or a valid answer);
    "429:<value>" is a 429 whose Retry-After header is <value> (plain "429": 0)."""

    script: list[str] = []
    seen: list[float] = []

    def do_POST(self) -> None:  # noqa: N802 - the http.server API
        self.rfile.read(int(self.headers.get("content-length", 0)))
        FakeEndpoint.seen.append(time.monotonic())
        fault = FakeEndpoint.script.pop(0) if FakeEndpoint.script else "ok"
        fault, _, retry_after = fault.partition(":")
        if fault == "drop":
            self.connection.close()  # no status line at all
            return
        if fault == "timeout":
            time.sleep(TIMEOUT_S * 3)
        status, body, headers = {
            "429": (429, b'{"error": {"message": "slow"}}', {"Retry-After": retry_after or "0"}),
            "500": (500, b'{"error": {"message": "boom"}}', {}),
            "503": (503, b'{"error": {"message": "busy"}}', {}),
            "malformed": (200, b'{"id": "c1", "choices": [', {}),
            "timeout": (200, _completion('{"score": 1}'), {}),
            "ok": (200, _completion('{"score": 7}'), {}),
        }[fault]
        try:
            self.send_response(status)
            for name, value in {"content-type": "application/json", **headers}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    FakeEndpoint.script, FakeEndpoint.seen = [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeEndpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def _client(base_url: str, sleeps: list[float], retries: int = 2,
            max_retry_after_s: float = 30.0) -> LLMClient:
    backend = OpenAIBackend("fake-model", base_url, mode="json")
    return LLMClient(backend, None, max_retries=retries, timeout_s=TIMEOUT_S, backoff_s=0.01,
                     max_retry_after_s=max_retry_after_s,
                     sleep=lambda s: (sleeps.append(s), time.sleep(s)))


@pytest.mark.parametrize("fault", ["timeout", "429", "500", "503", "malformed", "drop"])
def test_each_fault_is_retried_then_answered(endpoint: str, fault: str) -> None:
    FakeEndpoint.script = [fault]
    sleeps: list[float] = []
    result = _client(endpoint, sleeps).generate(Prompt("system", "score it"), Answer)
    assert result.value.score == 7 and len(FakeEndpoint.seen) == 2
    assert result.record.attempts == 2 and sleeps == [0.01]


def test_an_endpoint_that_keeps_failing_is_recorded_as_failed_after_bounded_retries(
    endpoint: str,
) -> None:
    FakeEndpoint.script = ["500", "429", "drop", "malformed", "timeout", "503"] * 3
    sleeps: list[float] = []
    client = _client(endpoint, sleeps, retries=2)
    with pytest.raises(LLMCallFailed) as failed:
        client.generate(Prompt("system", "score it"), Answer)
    record = failed.value.record
    assert not record.ok and record.attempts == 3
    assert sleeps == [0.01, 0.02]  # doubling backoff between the 3 attempts, none after
    assert "attempt 3" in str(failed.value)


def test_a_429_is_retried_only_after_the_wait_its_retry_after_asks(endpoint: str) -> None:
    FakeEndpoint.script = ["429:1"]
    sleeps: list[float] = []
    result = _client(endpoint, sleeps).generate(Prompt("system", "score it"), Answer)
    first, second = FakeEndpoint.seen
    assert result.value.score == 7 and result.record.attempts == 2
    assert sleeps == [1.0]  # not the 0.01 s backoff
    assert second - first >= 0.9


def test_a_retry_after_longer_than_the_cap_waits_the_cap(endpoint: str) -> None:
    FakeEndpoint.script = ["429:3600", "429:3600"]
    sleeps: list[float] = []
    result = _client(endpoint, sleeps, max_retry_after_s=0.3).generate(
        Prompt("system", "score it"), Answer)
    assert result.value.score == 7 and sleeps == [0.3, 0.3]


NOW = datetime(2026, 1, 5, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(("header", "seconds"), [
    ("1", 1.0), ("2.5", 2.5), ("-4", 0.0), (None, None), ("", None), ("soon", None),
    ("inf", None), ("Mon, 05 Jan 2026 12:00:07 GMT", 7.0),
    ("Mon, 05 Jan 2026 11:59:00 GMT", 0.0),  # a date already past: retry now
])
def test_retry_after_reads_seconds_and_http_dates(header: str | None,
                                                  seconds: float | None) -> None:
    assert retry_after_seconds(header, NOW) == seconds
