"""The LLM resource every LLM-using asset goes through (logic in deeprule/llm/)."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from deeprule.llm import LLMClient
from deeprule.llm.client import Backend
from deeprule.llm.factory import (
    LLMSettings,
    TaskModels,
    TaskTimeouts,
    make_client,
    make_clients,
)
from resources.paths import data_dir

DEFAULT_TOKEN_BUDGET = 500_000
"""Per materialization. Covers every document of `demo` in one run (its 1,000 extraction
prompts take 352k tokens, about 415k with the answers), so it only stops bigger worlds
(`paper`: ~4.9M), which continue where they stopped on the next run (docs/llm.md)."""


class LLMResource(dg.ConfigurableResource):
    """Which model answers, and the limits every call runs under.

    `local` (default) runs each task on its embedded model offline (Qwen2.5-Coder 1.5B
    proposes rules, Gemma 3 270M extracts and judges; docs/llm.md); `openai` sends
    every task to any OpenAI-compatible endpoint. The API key is never a field here:
    the openai backend reads OPENAI_API_KEY from the environment itself.
    """

    backend: str = Field(default="local", description="local | openai (every task)")
    extraction_model: str = Field(
        default=TaskModels.extraction,
        description="Document extraction: gemma-3-270m | qwen-coder-1.5b | openai")
    rule_model: str = Field(
        default=TaskModels.rule_proposal,
        description="Rule proposals: qwen-coder-1.5b | gemma-3-270m | openai; several, "
        "comma-separated, write one search's proposals in turn")
    quality_model: str = Field(
        default=TaskModels.data_quality,
        description="Data-quality judgments: gemma-3-270m | qwen-coder-1.5b | openai")
    summary_model: str = Field(
        default=TaskModels.reflection_summary,
        description="The rule search's phase summary: gemma-3-270m | qwen-coder-1.5b | openai")
    model: str = Field(default="", description="Model name for the openai backend.")
    base_url: str = Field(default="", description="OpenAI-compatible endpoint; empty = OpenAI.")
    instructor_mode: str = Field(
        default=LLMSettings.instructor_mode,
        description="auto (json_schema, falling back to json, then md_json) | json_schema | "
        "tools | json | md_json")
    system_in_user: bool = Field(
        default=LLMSettings.system_in_user,
        description="openai: instructions inside the user message, for served chat templates "
        "that drop the system role (llama-cpp-python's gemma).")
    extraction_timeout_s: float = Field(
        default=TaskTimeouts.extraction, description="Seconds per attempt: document extraction.")
    rule_timeout_s: float = Field(
        default=TaskTimeouts.rule_proposal, description="Seconds per attempt: rule proposals.")
    quality_timeout_s: float = Field(
        default=TaskTimeouts.data_quality,
        description="Seconds per attempt: data-quality judgments.")
    summary_timeout_s: float = Field(
        default=TaskTimeouts.reflection_summary,
        description="Seconds per attempt: the rule search's phase summary.")
    timeout_s: float = Field(
        default=LLMSettings.timeout_s,
        description="Seconds per attempt for every task when > 0 (overrides the four above).")
    max_retries: int = Field(default=2, description="Retries after the first attempt.")
    backoff_s: float = Field(default=1.0, description="First retry delay; doubles each retry.")
    max_retry_after_s: float = Field(
        default=LLMSettings.max_retry_after_s,
        description="A server's Retry-After (429, 503) is waited out up to this many seconds.")
    token_budget: int = Field(
        default=DEFAULT_TOKEN_BUDGET,
        description="Tokens one materialization may spend; 0 = no cap.",
    )
    cache_path: str = Field(default="", description="DuckDB response cache; empty = data dir.")
    model_dir: str = Field(default="", description="Where the local .gguf is assembled.")

    @classmethod
    def from_env(cls) -> LLMResource:
        """Settings from DEEPRULE_LLM_* and OPENAI_BASE_URL (resources/settings.py), resolved."""
        from resources.settings import env_settings

        return cls(**env_settings("llm")).process_config_and_initialize()

    def settings(self) -> LLMSettings:
        return LLMSettings(
            backend=self.backend, model=self.model, base_url=self.base_url,
            instructor_mode=self.instructor_mode, system_in_user=self.system_in_user,
            timeout_s=self.timeout_s,
            timeouts=TaskTimeouts(extraction=self.extraction_timeout_s,
                                  rule_proposal=self.rule_timeout_s,
                                  data_quality=self.quality_timeout_s,
                                  reflection_summary=self.summary_timeout_s),
            max_retries=self.max_retries, backoff_s=self.backoff_s,
            max_retry_after_s=self.max_retry_after_s,
            token_budget=self.token_budget,
            cache_path=self.cache_path or str(data_dir() / "llm_cache.duckdb"),
            model_dir=self.model_dir or str(data_dir() / "models"),
            models=TaskModels(extraction=self.extraction_model, rule_proposal=self.rule_model,
                              data_quality=self.quality_model,
                              reflection_summary=self.summary_model),
        )

    def client(self, task: str, backend: Backend | None = None) -> LLMClient:
        """A fresh client (fresh usage and budget) for one materialization's `task`
        (extraction | rule_proposal | data_quality | reflection_summary).

        `backend` replaces the configured one (tests pass a scripted backend).
        """
        return make_client(self.settings(), task, backend)

    def clients(self, task: str) -> tuple[LLMClient, ...]:
        """The task's client, or one per model when several are configured (comma-separated),
        sharing one usage record and token budget."""
        settings = self.settings()
        if len(settings.models_for(task)) == 1:
            return (self.client(task),)
        return make_clients(settings, task)
