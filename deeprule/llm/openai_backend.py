"""Any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, a llama.cpp server) via instructor.

The API key is read from OPENAI_API_KEY by this module only and handed to the
openai client. Servers echo keys in error bodies, so it is scrubbed from every
error this module re-raises and from the log records of instructor, openai
and their HTTP client.
"""

from __future__ import annotations

import logging
import os
from typing import Any, TypeVar

import instructor
import openai
from instructor.core.exceptions import InstructorRetryException
from pydantic import BaseModel

from deeprule.llm.types import (
    Generation,
    InvalidOutputError,
    LLMConfigError,
    LLMError,
    Prompt,
    TransientLLMError,
)

T = TypeVar("T", bound=BaseModel)

MODES = {
    "json_schema": instructor.Mode.JSON_SCHEMA,
    "tools": instructor.Mode.TOOLS,
    "json": instructor.Mode.JSON,
    "md_json": instructor.Mode.MD_JSON,
}
_TRANSIENT = (
    openai.APITimeoutError, openai.APIConnectionError, openai.RateLimitError,
    openai.InternalServerError,
)


class OpenAIBackend:
    """instructor over the openai client; instructor re-asks on invalid output."""

    name = "openai"

    def __init__(
        self,
        model: str,
        base_url: str = "",
        mode: str = "json_schema",
        validation_retries: int = 1,
        http_client: Any = None,
    ) -> None:
        if not model:
            raise LLMConfigError("backend 'openai' needs a model name: set DEEPRULE_LLM_MODEL")
        if mode not in MODES:
            raise LLMConfigError(f"unknown instructor mode {mode!r}; choose one of {sorted(MODES)}")
        key = os.environ.get("OPENAI_API_KEY", "")
        if not key and not base_url:
            raise LLMConfigError("backend 'openai' against api.openai.com needs OPENAI_API_KEY")
        self.model = model
        self.settings = f"mode={mode};temperature=0;validation_retries={validation_retries}"
        self._validation_retries = validation_retries
        self._secret = key
        raw = openai.OpenAI(
            base_url=base_url or None, api_key=key or "not-needed", max_retries=0,
            http_client=http_client,
        )
        self._client = instructor.from_openai(raw, mode=MODES[mode])
        if key:
            _redact_logs(key)

    def generate(
        self, prompt: Prompt, schema: type[T], timeout_s: float, attempt: int = 0
    ) -> Generation[T]:
        messages: list[Any] = [
            {"role": "system", "content": prompt.system},
            {"role": "user", "content": prompt.user},
        ]
        try:
            value, completion = self._client.create_with_completion(
                model=self.model, messages=messages, response_model=schema,
                max_retries=self._validation_retries, timeout=timeout_s, temperature=0,
            )
        except InstructorRetryException as err:
            raise self._translate(err.__cause__ or err, _usage(err.total_usage)) from None
        except openai.OpenAIError as err:
            raise self._translate(err, (0, 0)) from None
        prompt_tokens, completion_tokens = _usage(getattr(completion, "usage", None))
        clean = schema.model_validate(value.model_dump())  # instructor returns a subclass
        return Generation(clean, clean.model_dump_json(), prompt_tokens, completion_tokens)

    def _translate(self, cause: BaseException, tokens: tuple[int, int]) -> LLMError:
        """Our error kinds: transport trouble is transient, other API errors are permanent,
        anything else instructor gave up on is invalid output."""
        text = self._redact(f"{type(cause).__name__}: {cause}")
        if isinstance(cause, _TRANSIENT):
            return TransientLLMError(text, *tokens)
        if isinstance(cause, openai.OpenAIError):
            return LLMError(text, *tokens)
        return InvalidOutputError(f"invalid output: {text}", *tokens)

    def _redact(self, text: str) -> str:
        """Never let the key travel in an error message (and from there into logs)."""
        return text.replace(self._secret, "***") if self._secret else text


class _Redact(logging.Filter):
    """Replaces the secret in a log record's final message."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.secret in message:
            record.msg, record.args = message.replace(self.secret, "***"), None
        return True


def _redact_logs(secret: str) -> None:
    """Attach the filter to every logger of the libraries that may log a server's reply."""
    names = [n for n in logging.root.manager.loggerDict
             if n.split(".")[0] in {"instructor", "openai", "httpx", "httpx2"}]
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _Redact) and f.secret == secret for f in logger.filters):
            logger.addFilter(_Redact(secret))


def _usage(usage: Any) -> tuple[int, int]:
    if usage is None:
        return 0, 0
    return int(getattr(usage, "prompt_tokens", 0) or 0), int(
        getattr(usage, "completion_tokens", 0) or 0
    )
