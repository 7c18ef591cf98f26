"""Build a backend and a client from plain settings (what the Dagster resource holds)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from deeprule.llm.cache import ResponseCache
from deeprule.llm.client import Backend, LLMClient
from deeprule.llm.types import LLMConfigError

BACKENDS = ("local", "openai")


@dataclass(frozen=True)
class LLMSettings:
    """Everything that selects and bounds a model; contains no secret."""

    backend: str = "local"
    model: str = ""
    base_url: str = ""
    instructor_mode: str = "json_schema"
    timeout_s: float = 60.0
    max_retries: int = 2
    backoff_s: float = 1.0
    token_budget: int = 0
    cache_path: str = ""
    model_dir: str = ""
    max_new_tokens: int = 160
    repeat_penalty: float = 1.1


def make_backend(settings: LLMSettings) -> Backend:
    """The configured backend; imports its runtime only when chosen."""
    if settings.backend == "local":
        from deeprule.llm.local import LocalBackend

        return LocalBackend(
            Path(settings.model_dir), max_tokens=settings.max_new_tokens,
            repeat_penalty=settings.repeat_penalty,
        )
    if settings.backend == "openai":
        from deeprule.llm.openai_backend import OpenAIBackend

        return OpenAIBackend(settings.model, settings.base_url, settings.instructor_mode)
    raise LLMConfigError(f"unknown LLM backend {settings.backend!r}; choose one of {BACKENDS}")


def make_client(settings: LLMSettings, backend: Backend | None = None) -> LLMClient:
    """A client over `backend` (default: the configured one), with the cache and limits."""
    cache = ResponseCache(settings.cache_path) if settings.cache_path else None
    return LLMClient(
        backend or make_backend(settings), cache, max_retries=settings.max_retries,
        timeout_s=settings.timeout_s, backoff_s=settings.backoff_s,
        token_budget=settings.token_budget,
    )
