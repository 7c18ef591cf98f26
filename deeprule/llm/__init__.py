"""The LLM layer: one client interface over a local constrained model or any OpenAI-compatible API.

Every call is schema-validated, cached in DuckDB, retried within bounds,
budgeted in tokens and accounted (see docs/llm.md).
"""

from deeprule.llm.cache import CachedResponse, ResponseCache
from deeprule.llm.client import Backend, CallResult, LLMClient
from deeprule.llm.types import (
    BudgetExhausted,
    CallRecord,
    CircuitOpen,
    Generation,
    InvalidOutputError,
    LLMCallFailed,
    LLMConfigError,
    LLMError,
    ModelPackageMissing,
    Prompt,
    TransientLLMError,
    Usage,
    cache_key,
    schema_fingerprint,
)

__all__ = [
    "Backend", "BudgetExhausted", "CachedResponse", "CallRecord", "CallResult", "CircuitOpen",
    "Generation",
    "InvalidOutputError", "LLMCallFailed", "LLMClient", "LLMConfigError", "LLMError",
    "ModelPackageMissing", "Prompt", "ResponseCache", "TransientLLMError", "Usage", "cache_key",
    "schema_fingerprint",
]
