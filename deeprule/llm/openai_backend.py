"""Any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, a llama.cpp server).

Modes, tried in this order under `auto` (the default) until the server takes one;
the mode in use is on every call record (`llm_mode` in asset metadata):

- `json_schema`: structured outputs through instructor (OpenAI, vLLM, Ollama);
- `json`: `response_format={"type": "json_object", "schema": ...}` (llama.cpp's
  server constrains decoding to that schema; others treat it as JSON mode) with
  the schema also stated in the prompt as compact text (llama-cpp-python's
  server rejects `json_schema`); a server that refuses the extra key names
  `response_format` and so moves on to `md_json`;
- `md_json`: no response_format at all, the same compact schema, the JSON taken
  from the answer's first `{` to its last `}`.

A server error that names `response_format` moves to the next mode at once (it is
not retried: it would fail the same way). In the prompted modes an answer that
fails validation is sent back with the validator's message before the next try.
Every answer and error says how many requests it took (instructor's re-asks and ours
included), so a search's budget N counts what the endpoint was really sent.

The API key is read from OPENAI_API_KEY by this module only and handed to the
openai client. Servers echo keys in error bodies, so it is scrubbed from every
error this module re-raises and from the log records of instructor, openai
and their HTTP client.
"""

from __future__ import annotations

import logging
import math
import os
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import instructor
import openai
from instructor.core.exceptions import InstructorRetryException
from instructor.core.hooks import Hooks
from pydantic import BaseModel, ValidationError

from deeprule.llm.schema_text import schema_text
from deeprule.llm.types import (
    Generation,
    InvalidOutputError,
    LLMConfigError,
    LLMError,
    Prompt,
    TransientLLMError,
    validation_summary,
)

T = TypeVar("T", bound=BaseModel)

FALLBACK_ORDER = ("json_schema", "json", "md_json")
MODES = ("auto", "json_schema", "tools", "json", "md_json")
_INSTRUCTOR_MODES = {"json_schema": instructor.Mode.JSON_SCHEMA, "tools": instructor.Mode.TOOLS}
_ANSWER_FORM = {
    "json": "Answer with one JSON object of this form:",
    "md_json": "Answer with one JSON object of this form, in a ```json block, nothing else:",
}
_FEEDBACK_ANSWER_CHARS = 2_000
_TRANSIENT = (
    openai.APITimeoutError, openai.APIConnectionError, openai.RateLimitError,
    openai.InternalServerError,
)


class _ModeRejected(Exception):
    """The server refused this mode's request format (not the prompt)."""


class OpenAIBackend:
    """Structured answers from an OpenAI-compatible endpoint, in the first mode it accepts."""

    name = "openai"

    def __init__(
        self,
        model: str,
        base_url: str = "",
        mode: str = "auto",
        validation_retries: int = 1,
        http_client: Any = None,
        max_tokens: int = 0,
        system_in_user: bool = False,
    ) -> None:
        if not model:
            raise LLMConfigError("backend 'openai' needs a model name: set DEEPRULE_LLM_MODEL")
        if mode not in MODES:
            raise LLMConfigError(f"unknown LLM mode {mode!r}; choose one of {MODES}")
        key = os.environ.get("OPENAI_API_KEY", "")
        if not key and not base_url:
            raise LLMConfigError("backend 'openai' against api.openai.com needs OPENAI_API_KEY")
        self.model = model
        self.endpoint = base_url or "api.openai.com"
        # the mode is not part of the cache key: every mode returns a validated instance
        self.settings = f"temperature=0;validation_retries={validation_retries}"
        self._system_in_user = system_in_user
        """Some served templates drop the system message (llama-cpp-python's `gemma`)."""
        self._limits = {"max_tokens": max_tokens} if max_tokens else {}
        """Without a cap a server may generate to the end of its context (llama.cpp does)."""
        if max_tokens:
            self.settings += f";max_tokens={max_tokens}"
        self._modes = list(FALLBACK_ORDER) if mode == "auto" else [mode]
        self.fallbacks: list[str] = []
        """Why each earlier mode was left ("json_schema: <server error>")."""
        self._validation_retries = validation_retries
        self._secret = key
        self._raw = openai.OpenAI(
            base_url=base_url or None, api_key=key or "not-needed", max_retries=0,
            http_client=http_client,
        )
        self._instructor = {m: instructor.from_openai(self._raw, mode=_INSTRUCTOR_MODES[m])
                            for m in self._modes if m in _INSTRUCTOR_MODES}
        if key:
            _redact_logs(key)

    @property
    def mode(self) -> str:
        """The mode requests are sent in now."""
        return self._modes[0]

    def generate(
        self, prompt: Prompt, schema: type[T], timeout_s: float, attempt: int = 0
    ) -> Generation[T]:
        while True:
            try:
                if self.mode in _INSTRUCTOR_MODES:
                    return self._structured(prompt, schema, timeout_s)
                return self._prompted(prompt, schema, timeout_s)
            except _ModeRejected as err:
                self._leave_mode(str(err))

    def _leave_mode(self, error: str) -> None:
        """Move to the next mode, or stop the run when none is left."""
        self.fallbacks.append(f"{self.mode}: {error[:300]}")
        if len(self._modes) == 1:
            raise LLMConfigError(
                f"{self.endpoint} rejects the request format of mode {self.mode!r}: "
                f"{error[:300]}; set DEEPRULE_LLM_MODE=auto (or json, md_json)")
        logging.getLogger(__name__).warning(
            "%s rejected mode %s; falling back to %s", self.endpoint, self.mode, self._modes[1])
        self._modes.pop(0)

    def _structured(self, prompt: Prompt, schema: type[T], timeout_s: float) -> Generation[T]:
        sent: list[object] = []
        hooks = Hooks()
        hooks.on("completion:kwargs", lambda *_, **__: sent.append(None))  # one per request
        try:
            value, completion = self._instructor[self.mode].create_with_completion(
                model=self.model, messages=self._messages(prompt.system, prompt.user),
                response_model=schema, max_retries=self._validation_retries,
                timeout=timeout_s, temperature=0, hooks=hooks, **self._limits,
            )
        except InstructorRetryException as err:
            raise self._translate(err.__cause__ or err, _usage(err.total_usage),
                                  len(sent)) from None
        except openai.OpenAIError as err:
            raise self._translate(err, (0, 0), len(sent)) from None
        prompt_tokens, completion_tokens = _usage(getattr(completion, "usage", None))
        clean = schema.model_validate(value.model_dump())  # instructor returns a subclass
        return Generation(clean, clean.model_dump_json(), prompt_tokens, completion_tokens,
                          len(sent))

    def _prompted(self, prompt: Prompt, schema: type[T], timeout_s: float) -> Generation[T]:
        """JSON asked for in words (compact schema); invalid answers are sent back with why."""
        system = f"{prompt.system}\n\n{_ANSWER_FORM[self.mode]}\n{schema_text(schema)}"
        messages = self._messages(system, prompt.user)
        extra = ({"response_format": {"type": "json_object",
                                      "schema": schema.model_json_schema()}}
                 if self.mode == "json" else {})
        tokens = (0, 0)
        problem = ""
        for sent in range(1, self._validation_retries + 2):
            try:
                completion = self._raw.chat.completions.create(
                    model=self.model, messages=messages, temperature=0, timeout=timeout_s,
                    **extra, **self._limits)
            except openai.OpenAIError as err:
                raise self._translate(err, tokens, sent) from None
            except ValueError as err:  # a response body that is not JSON at all
                raise TransientLLMError(f"{self.endpoint}: malformed response: {err}",
                                        *tokens, requests=sent) from None
            used = _usage(getattr(completion, "usage", None))
            tokens = (tokens[0] + used[0], tokens[1] + used[1])
            text = completion.choices[0].message.content or ""
            try:
                value = schema.model_validate_json(_json_part(text))
            except ValidationError as err:
                problem = validation_summary(err)
                messages += _messages_feedback(text, problem)
                continue
            return Generation(value, value.model_dump_json(), *tokens, requests=sent)
        raise InvalidOutputError(
            f"invalid output: {schema.__name__}: {problem} "
            f"({self._validation_retries + 1} answers, mode {self.mode})", *tokens,
            requests=self._validation_retries + 1)

    def _messages(self, system: str, user: str) -> list[Any]:
        if self._system_in_user:
            return [{"role": "user", "content": f"{system}\n\n{user}"}]
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]

    def _translate(self, cause: BaseException, tokens: tuple[int, int],
                   requests: int) -> LLMError | _ModeRejected:
        """Our error kinds: transport trouble is transient, other API errors are permanent,
        anything else instructor gave up on is invalid output; each with the requests the
        attempt sent."""
        text = self._redact(f"{type(cause).__name__}: {cause}")
        if isinstance(cause, openai.APIStatusError) and "response_format" in text:
            return _ModeRejected(text)
        if isinstance(cause, _TRANSIENT):
            return TransientLLMError(text, *tokens, retry_after_s=_retry_after(cause),
                                     requests=requests)
        if isinstance(cause, openai.OpenAIError):
            return LLMError(text, *tokens, requests=requests)
        return InvalidOutputError(f"invalid output: {text}", *tokens, requests=requests)

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


def _retry_after(cause: BaseException) -> float | None:
    """Seconds the server asked us to wait, from its answer's headers (None if it did not)."""
    if not isinstance(cause, openai.APIStatusError):
        return None
    headers = cause.response.headers
    millis = retry_after_seconds(headers.get("retry-after-ms"))  # OpenAI's own, finer header
    if millis is not None:
        return millis / 1000
    return retry_after_seconds(headers.get("retry-after"))


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """A Retry-After value (RFC 9110: delay-seconds or an HTTP-date) as seconds from `now`;
    None when absent or unreadable (then the client's own backoff applies)."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:  # "-0000": an HTTP-date is always GMT
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return max(seconds, 0.0) if math.isfinite(seconds) else None


def _messages_feedback(answer: str, problem: str) -> list[Any]:
    """The previous answer and exactly what the validator said about it."""
    return [
        {"role": "assistant", "content": answer[:_FEEDBACK_ANSWER_CHARS]},
        {"role": "user", "content": f"That answer is invalid: {problem}. Answer again with "
                                    "the corrected JSON object only, within the stated limits."},
    ]


def _json_part(text: str) -> str:
    """The answer from its first `{` to its last `}` (drops markdown fences and chatter)."""
    start, end = text.find("{"), text.rfind("}")
    return text[start:end + 1] if 0 <= start < end else text


def _usage(usage: Any) -> tuple[int, int]:
    if usage is None:
        return 0, 0
    return int(getattr(usage, "prompt_tokens", 0) or 0), int(
        getattr(usage, "completion_tokens", 0) or 0
    )
