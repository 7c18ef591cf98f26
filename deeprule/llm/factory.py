"""Build a backend and a client from plain settings (what the Dagster resource holds)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from deeprule.llm.cache import ResponseCache
from deeprule.llm.client import MAX_RETRY_AFTER_S, Backend, LLMClient
from deeprule.llm.types import LLMConfigError, Usage

BACKENDS = ("local", "openai")
OPENAI = "openai"


@dataclass(frozen=True)
class TaskModels:
    """Which model answers each LLM task: an embedded model's name or `openai`.

    Defaults come from `make bench` on `demo` (docs/llm.md, "Model per task"): only
    Qwen2.5-Coder 1.5B writes usable rules, so it proposes them; Gemma 3 270M is
    several times faster where the 1.5B model's gain does not pay for its time. The
    search's phase summary is prose no decision reads: Gemma keeps it to seconds inside
    `make run`'s 15 minutes (set `qwen-coder-1.5b` for a better-written one).
    """

    extraction: str = "gemma-3-270m"
    rule_proposal: str = "qwen-coder-1.5b"
    data_quality: str = "gemma-3-270m"
    reflection_summary: str = "gemma-3-270m"

    def for_task(self, task: str) -> str:
        """The task's model; several, comma-separated, share its calls (`make_clients`)."""
        if task not in TASKS:
            raise LLMConfigError(f"unknown LLM task {task!r}; choose one of {TASKS}")
        return getattr(self, task)


TASKS = ("extraction", "rule_proposal", "data_quality", "reflection_summary")
LONG_ANSWERS = ("rule_proposal", "reflection_summary")
"""Tasks whose answers get `rule_max_new_tokens` instead of `max_new_tokens`."""


@dataclass(frozen=True)
class TaskTimeouts:
    """Seconds one attempt of each task may take before it is cut and retried.

    Sized from measurements on 2 cores (docs/llm.md, "Timeouts per task"): a Gemma
    extraction takes ~1 s idle but over 60 s at load 8-9 (timed-out attempts failed
    documents in a busy `make run`); a Qwen rule proposal (~400 prompt tokens at 34
    tokens/s, up to 400 generated) ~30 s idle and 167 s at load 8-13; a data-quality
    judgment is a small extraction-like call on Gemma. A stuck call is bounded by
    its token limit anyway, so the limits leave room for a shared machine.
    """

    extraction: float = 180.0
    rule_proposal: float = 600.0
    data_quality: float = 180.0
    reflection_summary: float = 180.0

    def for_task(self, task: str) -> float:
        if task not in TASKS:
            raise LLMConfigError(f"unknown LLM task {task!r}; choose one of {TASKS}")
        return getattr(self, task)


@dataclass(frozen=True)
class LLMSettings:
    """Everything that selects and bounds a model; contains no secret.

    `backend="openai"` sends every task to the endpoint; `backend="local"` runs each
    task on its model in `models`, where a task may still name `openai`.
    """

    backend: str = "local"
    model: str = ""
    base_url: str = ""
    instructor_mode: str = "auto"
    system_in_user: bool = False
    """Send the instructions inside the user message (for served templates that drop the
    system role, as llama-cpp-python's `gemma` format does)."""
    timeouts: TaskTimeouts = field(default_factory=TaskTimeouts)
    timeout_s: float = 0.0
    """Per attempt for every task when > 0 (overrides `timeouts`)."""
    max_retries: int = 2
    backoff_s: float = 1.0
    max_retry_after_s: float = MAX_RETRY_AFTER_S
    token_budget: int = 0
    cache_path: str = ""
    model_dir: str = ""
    max_new_tokens: int = 160
    rule_max_new_tokens: int = 400
    """A depth-2 rule tree takes ~110 tokens of JSON: room for deeper ones."""
    repeat_penalty: float = 1.1
    models: TaskModels = field(default_factory=TaskModels)

    def model_for(self, task: str) -> str:
        """`openai` or the embedded model's name that answers `task` (the first, when
        several share it)."""
        return self.models_for(task)[0]

    def models_for(self, task: str) -> tuple[str, ...]:
        """Every model configured for `task`: `openai` or embedded models' names."""
        if self.backend not in BACKENDS:
            raise LLMConfigError(
                f"unknown LLM backend {self.backend!r}; choose one of {BACKENDS}")
        if self.backend == OPENAI:
            return (OPENAI,)
        names = tuple(n.strip() for n in self.models.for_task(task).split(",") if n.strip())
        if not names:
            raise LLMConfigError(f"no model configured for the LLM task {task!r}")
        return names

    def timeout_for(self, task: str) -> float:
        """Seconds per attempt of `task`: the global override, else the task's own."""
        own = self.timeouts.for_task(task)
        return self.timeout_s if self.timeout_s > 0 else own


def make_backend(settings: LLMSettings, task: str = "extraction",
                 choice: str = "") -> Backend:
    """The backend of model `choice` (default: the one configured for `task`) with the
    task's limits; imports its runtime only when chosen."""
    choice = choice or settings.model_for(task)
    max_tokens = (settings.rule_max_new_tokens if task in LONG_ANSWERS
                  else settings.max_new_tokens)
    if choice == OPENAI:
        from deeprule.llm.openai_backend import OpenAIBackend

        return OpenAIBackend(settings.model, settings.base_url, settings.instructor_mode,
                             max_tokens=max_tokens, system_in_user=settings.system_in_user)
    from deeprule.llm.local import LocalBackend
    from deeprule.llm.models import local_model

    return LocalBackend(Path(settings.model_dir), local_model(choice), max_tokens=max_tokens,
                        repeat_penalty=settings.repeat_penalty)


def make_client(settings: LLMSettings, task: str = "extraction",
                backend: Backend | None = None, usage: Usage | None = None) -> LLMClient:
    """A client for `task` over `backend` (default: the configured one), with cache and
    limits; clients given one `usage` share its record and token budget."""
    cache = ResponseCache(settings.cache_path) if settings.cache_path else None
    return LLMClient(
        backend or make_backend(settings, task), cache, max_retries=settings.max_retries,
        timeout_s=settings.timeout_for(task), backoff_s=settings.backoff_s,
        max_retry_after_s=settings.max_retry_after_s,
        token_budget=settings.token_budget, usage=usage,
    )


def make_clients(settings: LLMSettings, task: str,
                 backends: tuple[Backend, ...] = ()) -> tuple[LLMClient, ...]:
    """One client per model configured for `task` (or per given backend), sharing one
    usage record and token budget: several backends writing one run."""
    usage = Usage()
    chosen = backends or tuple(make_backend(settings, task, name)
                               for name in settings.models_for(task))
    return tuple(make_client(settings, task, backend, usage) for backend in chosen)
