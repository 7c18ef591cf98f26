"""LLM endpoint failures through a real HTTP server on 127.0.0.1 (a tiny fake
OpenAI-compatible endpoint): every fault is retried a bounded number of times with
doubling backoff, then recorded as a failed call; an answer after faults is kept."""

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pydantic import BaseModel, ConfigDict, Field

from deeprule.llm import LLMClient
from deeprule.llm.openai_backend import OpenAIBackend
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
    """Answers each POST with the next scripted fault (or a valid answer)."""

    script: list[str] = []
    seen: list[float] = []

    def do_POST(self) -> None:  # noqa: N802 - the http.server API
        self.rfile.read(int(self.headers.get("content-length", 0)))
        FakeEndpoint.seen.append(time.monotonic())
        fault = FakeEndpoint.script.pop(0) if FakeEndpoint.script else "ok"
        if fault == "drop":
            self.connection.close()  # no status line at all
            return
        if fault == "timeout":
            time.sleep(TIMEOUT_S * 3)
        status, body, headers = {
            "429": (429, b'{"error": {"message": "slow down"}}', {"Retry-After": "0"}),
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


def _client(base_url: str, sleeps: list[float], retries: int = 2) -> LLMClient:
    backend = OpenAIBackend("fake-model", base_url, mode="json")
    return LLMClient(backend, None, max_retries=retries, timeout_s=TIMEOUT_S, backoff_s=0.01,
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
