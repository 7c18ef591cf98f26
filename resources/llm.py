"""The LLM resource every LLM-using asset goes through (logic in deeprule/llm/)."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from deeprule.llm import LLMClient
from deeprule.llm.client import Backend
from deeprule.llm.factory import LLMSettings, make_client
from resources.paths import data_dir

DEFAULT_TOKEN_BUDGET = 40_000
"""Per materialization: a few minutes of the local model on 2 idle cores (docs/llm.md)."""


class LLMResource(dg.ConfigurableResource):
    """Which model answers, and the limits every call runs under.

    `local` (default) runs the embedded Gemma 3 270M offline; `openai` talks to any
    OpenAI-compatible endpoint. The API key is never a field here: the openai
    backend reads OPENAI_API_KEY from the environment itself.
    """

    backend: str = Field(default="local", description="local | openai")
    model: str = Field(default="", description="Model name for the openai backend.")
    base_url: str = Field(default="", description="OpenAI-compatible endpoint; empty = OpenAI.")
    instructor_mode: str = Field(
        default="json_schema", description="json_schema | tools | json | md_json"
    )
    timeout_s: float = Field(default=60.0, description="Per attempt.")
    max_retries: int = Field(default=2, description="Retries after the first attempt.")
    backoff_s: float = Field(default=1.0, description="First retry delay; doubles each retry.")
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
            instructor_mode=self.instructor_mode, timeout_s=self.timeout_s,
            max_retries=self.max_retries, backoff_s=self.backoff_s,
            token_budget=self.token_budget,
            cache_path=self.cache_path or str(data_dir() / "llm_cache.duckdb"),
            model_dir=self.model_dir or str(data_dir() / "models"),
        )

    def client(self, backend: Backend | None = None) -> LLMClient:
        """A fresh client (fresh usage and budget) for one materialization.

        `backend` replaces the configured one (tests pass a scripted backend).
        """
        return make_client(self.settings(), backend)
