"""The openai backend (instructor over the openai client) against a mocked HTTP endpoint."""

import json

import pytest
from pydantic import BaseModel, ConfigDict, Field

from deeprule.llm import InvalidOutputError, LLMCallFailed, LLMClient, LLMError, Prompt
from deeprule.llm.openai_backend import OpenAIBackend
from deeprule.llm.types import TransientLLMError

try:  # openai 3 ships its HTTP client as httpx2; openai 2 uses httpx
    import httpx2 as httpx
except ImportError:
    import httpx

SECRET = "sk-test-THIS-MUST-NOT-LEAK-1234"


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    score: int = Field(ge=0, le=10)


def completion(content: str, prompt_tokens: int = 30, completion_tokens: int = 5) -> dict:
    return {
        "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "m",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    }


def backend(replies: list[httpx.Response], seen: list[httpx.Request] | None = None,
            **kwargs) -> OpenAIBackend:
    script = list(replies)

    def handle(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        return script.pop(0)

    http = httpx.Client(transport=httpx.MockTransport(handle))
    return OpenAIBackend("test-model", "http://llm.invalid/v1", http_client=http, **kwargs)


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)


def test_structured_answer_with_usage() -> None:
    seen: list[httpx.Request] = []
    b = backend([httpx.Response(200, json=completion('{"score": 4}'))], seen)
    gen = b.generate(Prompt("sys", "user"), Answer, timeout_s=5)
    assert gen.value == Answer(score=4)
    assert (gen.prompt_tokens, gen.completion_tokens) == (30, 5)
    body = json.loads(seen[0].content)
    assert body["messages"][0] == {"role": "system", "content": "sys"}
    assert body["response_format"]["type"] == "json_schema"
    assert seen[0].headers["authorization"] == f"Bearer {SECRET}"  # sent, never logged


def test_invalid_output_is_reasked_by_instructor_then_reported() -> None:
    b = backend([httpx.Response(200, json=completion('{"score": 42}'))] * 2,
                validation_retries=1)
    with pytest.raises(InvalidOutputError) as info:
        b.generate(Prompt("sys", "user"), Answer, timeout_s=5)
    assert info.value.prompt_tokens >= 30
    assert info.value.requests == 2  # instructor's re-ask counts against a search's N


def test_an_answer_valid_after_instructors_re_ask_reports_both_requests() -> None:
    b = backend([httpx.Response(200, json=completion('{"score": 42}')),
                 httpx.Response(200, json=completion('{"score": 4}'))], validation_retries=1)
    gen = b.generate(Prompt("sys", "user"), Answer, timeout_s=5)
    assert gen.value == Answer(score=4) and gen.requests == 2


def test_the_prompted_mode_reports_its_own_re_asks() -> None:
    b = backend([httpx.Response(200, json=completion('{"score": 42}')),
                 httpx.Response(200, json=completion('{"score": 4}'))], mode="md_json",
                validation_retries=1)
    assert b.generate(Prompt("sys", "user"), Answer, timeout_s=5).requests == 2


def test_server_errors_are_transient_and_retried_by_the_client() -> None:
    b = backend([httpx.Response(503, json={"error": {"message": "busy"}}),
                 httpx.Response(200, json=completion('{"score": 1}'))])
    llm = LLMClient(b, None, max_retries=1, sleep=lambda s: None)
    assert llm.generate(Prompt("s", "u"), Answer).record.attempts == 2


def test_server_error_maps_to_transient() -> None:
    b = backend([httpx.Response(500, json={"error": {"message": "boom"}})])
    with pytest.raises(TransientLLMError):
        b.generate(Prompt("s", "u"), Answer, timeout_s=5)


def test_api_key_never_appears_in_errors_logs_or_accounting(
    caplog: pytest.LogCaptureFixture,
) -> None:
    leaky = {"error": {"message": f"Incorrect API key provided: {SECRET}"}}
    b = backend([httpx.Response(401, json=leaky)])
    llm = LLMClient(b, None, max_retries=2, sleep=lambda s: None)
    with pytest.raises(LLMCallFailed) as info:
        llm.generate(Prompt("s", "u"), Answer)
    assert SECRET not in str(info.value)
    assert "***" in str(info.value)
    assert SECRET not in json.dumps(llm.usage.summary())
    assert info.value.record.attempts == 1  # 401 is permanent
    assert caplog.records and SECRET not in caplog.text


def test_configuration_errors_are_clear(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(LLMError, match="DEEPRULE_LLM_MODEL"):
        OpenAIBackend("", "http://x")
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(LLMError, match="OPENAI_API_KEY"):
        OpenAIBackend("gpt-x")
