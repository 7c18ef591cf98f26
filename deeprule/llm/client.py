"""The one path every LLM call takes: cache, budget, retries, validation, accounting."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from deeprule.llm.cache import CachedResponse, ResponseCache
from deeprule.llm.types import (
    BudgetExhausted,
    CallRecord,
    CircuitOpen,
    Generation,
    InvalidOutputError,
    LLMCallFailed,
    LLMConfigError,
    LLMError,
    Prompt,
    Spent,
    TransientLLMError,
    Usage,
    cache_key,
)

T = TypeVar("T", bound=BaseModel)
log = logging.getLogger(__name__)

MAX_RETRY_AFTER_S = 30.0
"""The longest wait a server's Retry-After may impose before the next try: a rate limit
clears in seconds; a server asking for an hour (a spent quota) gets this wait, then the
call fails and is recorded, and the run goes on."""


class Backend(Protocol):
    """A model that turns a prompt into a validated instance of a pydantic schema.

    Raises TransientLLMError or InvalidOutputError for retryable problems,
    LLMConfigError for a setup that cannot work (it stops the run), and any
    other LLMError for a permanent failure of this call. `attempt` counts
    retries, so a deterministic backend can vary its next try.
    """

    name: str
    model: str
    settings: str
    """Whatever else changes the answer (decoding settings): part of the cache key."""
    endpoint: str
    """Where requests go (a URL, or the local file), for error messages."""
    mode: str
    """How structure is obtained right now (recorded per call)."""

    def generate(
        self, prompt: Prompt, schema: type[T], timeout_s: float, attempt: int = 0
    ) -> Generation[T]: ...


@dataclass(frozen=True)
class CallResult(Generic[T]):
    """A validated answer and its accounting record."""

    value: T
    record: CallRecord


class LLMClient:
    """Wraps a backend with a response cache, a token budget and bounded retries.

    One client serves one asset materialization: its `usage` is what the asset
    reports, and its budget bounds that materialization. When the same error ends
    `breaker_after` calls in a row (0 = never), it raises CircuitOpen — naming the
    error, endpoint, model and the setting most likely to fix it — then and on every
    later call: a misconfigured endpoint must not grind through a thousand documents.
    """

    def __init__(
        self,
        backend: Backend,
        cache: ResponseCache | None,
        *,
        max_retries: int = 2,
        timeout_s: float = 60.0,
        backoff_s: float = 1.0,
        max_retry_after_s: float = MAX_RETRY_AFTER_S,
        token_budget: int = 0,
        breaker_after: int = 3,
        sleep: Callable[[float], None] = time.sleep,
        usage: Usage | None = None,
    ) -> None:
        self.backend = backend
        self.cache = cache
        self.max_retries = max_retries
        self.timeout_s = timeout_s
        self.backoff_s = backoff_s
        self.max_retry_after_s = max_retry_after_s
        self.token_budget = token_budget
        self.breaker_after = breaker_after
        self.usage = usage or Usage()
        """Every call's record; clients sharing one also share the token budget."""
        self._sleep = sleep
        self._memo: dict[str, CachedResponse] = {}
        self._streak: tuple[str, int] = ("", 0)
        self._open: CircuitOpen | None = None

    def __enter__(self) -> LLMClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Persist buffered cache writes."""
        if self.cache is not None:
            self.cache.flush()

    @property
    def budget_left(self) -> int | None:
        """Tokens still allowed (None = unlimited)."""
        if self.token_budget <= 0:
            return None
        return max(self.token_budget - self.usage.spent_tokens, 0)

    def key(self, prompt: Prompt, schema: type[BaseModel], sample: int = 0) -> str:
        b = self.backend
        settings = f"{b.settings};sample={sample}" if sample else b.settings
        return cache_key(b.name, b.model, settings, prompt, schema)

    def prefetch(self, requests: Iterable[tuple[Prompt, type[BaseModel]]]) -> int:
        """Load the cached answers for many requests in one read; returns how many were found."""
        if self.cache is None:
            return 0
        found = self.cache.get_many(self.key(p, s) for p, s in requests)
        self._memo.update(found)
        return len(found)

    def generate(self, prompt: Prompt, schema: type[T], sample: int = 0,
                 max_requests: int = 0) -> CallResult[T]:
        """A validated `schema` instance for `prompt`, from the cache or the backend.

        `sample` > 0 asks for another answer than the first: backends start at
        that attempt number (the local one samples at a low temperature seeded
        by it instead of decoding greedily), and each sample is cached apart.
        Searchers use it so that an unchanged prompt does not return the same
        proposal forever. `max_requests` > 0: no retry is started once the attempts
        sent that many model requests (what is left of a search's budget N; a backend's
        own re-asks within one attempt can still pass it). Raises BudgetExhausted before
        starting a backend attempt once the token budget is spent, and LLMCallFailed
        when every attempt failed; the record's `requests` counts every request sent.
        """
        if self._open is not None:
            raise self._open
        key = self.key(prompt, schema, sample)
        hit = self._cached(key, schema)
        if hit is not None:
            return hit
        return self._call_backend(key, prompt, schema, sample, max_requests)

    def _cached(self, key: str, schema: type[T]) -> CallResult[T] | None:
        entry = self._memo.pop(key, None)
        if entry is None and self.cache is not None:
            entry = self.cache.get_many([key]).get(key)
        if entry is None:
            return None
        try:
            value = schema.model_validate_json(entry.response)
        except ValidationError:
            return None  # a stale entry under a changed validator: ask again
        record = self._record(schema, entry.prompt_tokens, entry.completion_tokens, 0.0,
                              cache_hit=True, attempts=0, ok=True, requests=entry.requests)
        return CallResult(value, record)

    def _call_backend(self, key: str, prompt: Prompt, schema: type[T],
                      sample: int, max_requests: int) -> CallResult[T]:
        started = time.perf_counter()
        spent = Spent()
        errors: list[str] = []
        for attempt in range(self.max_retries + 1):
            if attempt and 0 < max_requests <= spent.requests:
                break  # the caller's request budget is spent: no retry
            self._check_budget(spent)
            try:
                gen = self.backend.generate(prompt, schema, self.timeout_s, sample + attempt)
            except (TransientLLMError, InvalidOutputError) as err:
                spent.add(err)
                errors.append(f"attempt {attempt + 1}: {type(err).__name__}: {err}")
                log.info("LLM attempt %d failed: %s", attempt + 1, err)
                if attempt < self.max_retries:
                    self._sleep(self.retry_delay(attempt, err))
                continue
            except LLMConfigError:
                raise
            except LLMError as err:
                spent.add(err)
                errors.append(f"attempt {attempt + 1}: {type(err).__name__}: {err}")
                break
            spent.add(gen)
            record = self._record(schema, spent.prompt_tokens, spent.completion_tokens,
                                  time.perf_counter() - started, cache_hit=False,
                                  attempts=attempt + 1, ok=True, requests=spent.requests)
            self._store(key, schema, gen, spent.requests)
            self._streak = ("", 0)
            return CallResult(gen.value, record)
        record = self._record(schema, spent.prompt_tokens, spent.completion_tokens,
                              time.perf_counter() - started, cache_hit=False,
                              attempts=len(errors), ok=False, requests=spent.requests)
        failure = LLMCallFailed("; ".join(errors), record)
        self._count_failure(errors[-1].split(": ", 1)[-1], failure)
        raise failure

    def retry_delay(self, attempt: int, err: TransientLLMError | InvalidOutputError) -> float:
        """Seconds before retry `attempt + 1`: the doubling backoff, or longer when the server
        said how long to wait (a 429's or 503's Retry-After), at most `max_retry_after_s`."""
        backoff = self.backoff_s * 2**attempt
        asked = err.retry_after_s if isinstance(err, TransientLLMError) else None
        if asked is None:
            return backoff
        return max(backoff, min(asked, self.max_retry_after_s))

    def _count_failure(self, error: str, failure: LLMCallFailed) -> None:
        """Open the circuit once `error` ended `breaker_after` calls in a row."""
        same = self._streak[0] == error
        self._streak = (error, self._streak[1] + 1 if same else 1)
        if self.breaker_after and self._streak[1] >= self.breaker_after:
            b = self.backend
            self._open = CircuitOpen(
                f"stopped: the last {self._streak[1]} calls failed with the same error: "
                f"{error[:500]} (backend {b.name}, endpoint {b.endpoint}, model {b.model}, "
                f"mode {b.mode}). Most likely fix: {likely_fix(error)}")
            raise self._open from failure

    def _check_budget(self, in_flight: Spent) -> None:
        """Refuse to start an attempt once the budget (including this call's tokens) is spent."""
        if self.token_budget <= 0:
            return
        if self.usage.spent_tokens + in_flight.tokens >= self.token_budget:
            if in_flight != Spent():  # a retry after attempts that spent something
                self._record(None, in_flight.prompt_tokens, in_flight.completion_tokens, 0.0,
                             cache_hit=False, attempts=0, ok=False,
                             requests=in_flight.requests)
            raise BudgetExhausted(f"token budget of {self.token_budget} spent")

    def _record(
        self, schema: type[BaseModel] | None, prompt_tokens: int, completion_tokens: int,
        latency_s: float, *, cache_hit: bool, attempts: int, ok: bool, requests: int,
    ) -> CallRecord:
        record = CallRecord(
            backend=self.backend.name, model=self.backend.model,
            schema=schema.__name__ if schema else "", prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens, latency_s=latency_s, cache_hit=cache_hit,
            attempts=attempts, ok=ok, mode=self.backend.mode, requests=requests,
        )
        self.usage.add(record)
        return record

    def _store(self, key: str, schema: type[BaseModel], gen: Generation, requests: int) -> None:
        """Keep the answer with the requests the whole call took (failed attempts included),
        so a rerun answered from the cache charges a search's N the same."""
        if self.cache is None:
            return
        self.cache.put(CachedResponse(
            key=key, backend=self.backend.name, model=self.backend.model,
            schema_name=schema.__name__, response=gen.text,
            prompt_tokens=gen.prompt_tokens, completion_tokens=gen.completion_tokens,
            requests=requests,
        ))


_FIXES = (
    (("response_format",), "DEEPRULE_LLM_MODE=auto (falls back to json, then md_json)"),
    (("AuthenticationError", "401", "api key", "API key"),
     "OPENAI_API_KEY: a key this endpoint accepts"),
    (("NotFoundError", "404", "model_not_found"),
     "DEEPRULE_LLM_MODEL: a model this server serves (and OPENAI_BASE_URL ending in /v1)"),
    (("APIConnectionError", "Connection error", "ConnectError"),
     "OPENAI_BASE_URL: is the server running and reachable from here?"),
    (("Timeout", "exceeded"),
     "the task's timeout (DEEPRULE_LLM_*_TIMEOUT_S, resources/settings.py) or a faster model"),
    (("invalid output", "does not match", "InvalidOutputError"),
     "a stronger model for this task (DEEPRULE_LLM_*_MODEL or the openai backend)"),
)


def likely_fix(error: str) -> str:
    """The setting that most often cures this error (docs/llm.md, "When calls fail")."""
    for needles, fix in _FIXES:
        if any(n in error for n in needles):
            return fix
    return "read the error above and the server's log; nothing in DeepRule's settings names it"
