"""Requests, results, accounting and errors shared by every LLM backend."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ValidationError

T = TypeVar("T", bound=BaseModel)


@dataclass(frozen=True)
class Prompt:
    """A two-part prompt: fixed instructions first (shared prefix), the variable input last.

    Keeping the instructions identical across calls lets the local runtime reuse
    their evaluated prefix, and lets chat backends send them as the system message.
    """

    system: str
    user: str

    def as_text(self) -> str:
        """Plain-text form for models without a chat template."""
        return f"{self.system}\n\n{self.user}\n"


@dataclass(frozen=True)
class Generation(Generic[T]):
    """What a backend returns: the validated object, its JSON text and token counts."""

    value: T
    text: str
    prompt_tokens: int
    completion_tokens: int
    requests: int = 1
    """Model requests this answer took (a backend that re-asks itself, as the openai one
    does with an invalid answer, sends more than one): what a search's budget N counts."""


@dataclass(frozen=True)
class CallRecord:
    """Accounting for one logical call (cache hit or one-or-more backend attempts)."""

    backend: str
    model: str
    schema: str
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    cache_hit: bool
    attempts: int
    ok: bool
    mode: str = ""
    """How the backend asked for structure (llguidance, json_schema, json, md_json, ...)."""
    requests: int = 0
    """Model requests the call sent over all its attempts (the backends' own re-asks
    included); for a cache hit, what its answer took when it was made, so a rerun charges
    a search's budget N exactly as the first run did."""


@dataclass
class Usage:
    """Running totals over the calls one client made; becomes asset metadata."""

    records: list[CallRecord] = field(default_factory=list)

    def add(self, record: CallRecord) -> None:
        self.records.append(record)

    @property
    def spent_tokens(self) -> int:
        """Tokens charged to the budget: cache hits are free."""
        return sum(
            r.prompt_tokens + r.completion_tokens for r in self.records if not r.cache_hit
        )

    def requests(self, since: int = 0) -> int:
        """Model requests of the calls recorded from index `since` on (cache hits count
        what their answers took): what the LLM searchers charge to N."""
        return sum(r.requests for r in self.records[since:])

    def summary(self) -> dict[str, Any]:
        """Flat, JSON-friendly totals (no prompt text, no credentials)."""
        live = [r for r in self.records if not r.cache_hit]
        return {
            "llm_calls": len(self.records),
            "llm_cache_hits": len(self.records) - len(live),
            "llm_backend_attempts": sum(r.attempts for r in live),
            "llm_requests": sum(r.requests for r in live),
            "llm_failed_calls": sum(not r.ok for r in self.records),
            "llm_prompt_tokens": sum(r.prompt_tokens for r in live),
            "llm_completion_tokens": sum(r.completion_tokens for r in live),
            "llm_tokens_spent": self.spent_tokens,
            "llm_latency_s": round(sum(r.latency_s for r in live), 3),
            "llm_mode": ",".join(dict.fromkeys(r.mode for r in live if r.mode and r.ok)),
        }


@dataclass
class Spent:
    """Tokens and model requests spent so far, failed attempts included: one call's backend
    attempts (what its record charges to the budget and to a search's N), or one search
    step's calls."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    requests: int = 0

    def add(self, attempt: Generation | CallRecord | LLMError) -> None:
        """Add one attempt's or call's tokens and model requests (an answer, its record, or
        the error it raised)."""
        self.prompt_tokens += attempt.prompt_tokens
        self.completion_tokens += attempt.completion_tokens
        self.requests += attempt.requests

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class LLMError(Exception):
    """Base class of every error the LLM layer raises.

    A failed attempt may still have consumed tokens (a local model that produced
    invalid output, a server that answered badly): they are charged to the budget.
    """

    def __init__(self, message: str, prompt_tokens: int = 0, completion_tokens: int = 0,
                 *, requests: int = 1) -> None:
        super().__init__(message)
        self.prompt_tokens = prompt_tokens
        self.completion_tokens = completion_tokens
        self.requests = requests
        """Model requests the failed attempt sent (a backend's own re-asks included)."""


class TransientLLMError(LLMError):
    """Timeout, connection error, rate limit or server error: worth retrying."""

    def __init__(self, message: str, prompt_tokens: int = 0, completion_tokens: int = 0,
                 retry_after_s: float | None = None, *, requests: int = 1) -> None:
        super().__init__(message, prompt_tokens, completion_tokens, requests=requests)
        self.retry_after_s = retry_after_s
        """How long the server asked us to wait before the next try (Retry-After), if it said."""


class InvalidOutputError(LLMError):
    """The model answered, but not with a valid instance of the schema: worth retrying."""


class PromptTooLong(LLMError):
    """The prompt and the room for the answer exceed the model's context window. Not
    retried: the same prompt would fail again (the caller may shorten it). Refused before
    the model ran: no request sent."""

    def __init__(self, message: str, prompt_tokens: int = 0) -> None:
        super().__init__(message, prompt_tokens, requests=0)


class LLMCallFailed(LLMError):
    """A call that still failed after its retries; carries the accounting record."""

    def __init__(self, message: str, record: CallRecord) -> None:
        super().__init__(message, record.prompt_tokens, record.completion_tokens,
                         requests=record.requests)
        self.record = record


class BudgetExhausted(LLMError):
    """The client's token budget is spent: no further call is started."""

    def __init__(self, message: str) -> None:
        super().__init__(message, requests=0)


class LLMConfigError(LLMError):
    """The LLM layer is misconfigured (missing package, model name or key): stop the run."""


class CircuitOpen(LLMConfigError):
    """The same error ended several calls in a row: later calls would fail alike, so stop."""


class ModelPackageMissing(LLMConfigError):
    """The local model's weights or runtime package is not installed."""


class GrammarAnswer(BaseModel):
    """An answer a local model writes as text in a grammar instead of as JSON.

    `lark` (llguidance's Lark dialect) holds the local backend's generation to that
    grammar, and its captures named like the model's fields become the instance (a rule
    as `def stock(row): ...` text, not as a JSON tree). Remote backends answer the JSON
    schema as usual, with the same fields as free text: the caller checks those.
    """

    lark: ClassVar[str] = ""


def answer_grammar(schema: type[BaseModel]) -> str:
    """The Lark grammar a local model answers `schema` in ("" = its JSON schema)."""
    return schema.lark if issubclass(schema, GrammarAnswer) else ""


def schema_fingerprint(schema: type[BaseModel]) -> str:
    """Stable hash of a pydantic model's JSON schema (enums and bounds included) and of the
    grammar its text is written in, if any."""
    text = json.dumps(schema.model_json_schema(), sort_keys=True, separators=(",", ":"))
    grammar = answer_grammar(schema)
    return hashlib.sha256((text + (f"\x1f{grammar}" if grammar else "")).encode()).hexdigest()


def cache_key(
    backend: str, model: str, settings: str, prompt: Prompt, schema: type[BaseModel]
) -> str:
    """Key of one response in the cache: backend + model (+ decoding settings) + prompt + schema.

    `settings` names whatever else changes the answer (sampling, penalties), so a
    different decoding configuration never reads another's answers.
    """
    parts = [backend, model, settings, prompt.system, prompt.user, schema_fingerprint(schema)]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def validation_summary(err: ValidationError, limit: int = 3) -> str:
    """The first few validation problems as 'field: reason' (no input values echoed)."""
    parts = [f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}"
             for e in err.errors()[:limit]]
    more = err.error_count() - len(parts)
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")
