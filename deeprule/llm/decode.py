"""Schema-constrained decoding on llama.cpp that skips the tokens the grammar forces.

In a JSON answer most tokens are not choices: keys, quotes, separators and the
closing braces follow from the schema and the values already written. The
per-token loop of llama-cpp-python evaluates each of them as its own forward
pass. Here llguidance says which tokens are forced (`compute_ff_tokens`), and
they are evaluated in one batch together with the last sampled token, at about
the price of one: on CPU a batch of a few tokens costs little more than one.

Everything else is what the per-token path did: the evaluated prompt prefix is
kept from one call to the next (only the new suffix is evaluated), the
llguidance mask allows only schema-valid tokens, a repeat penalty over the
last generated tokens, greedy decoding (sampling on retries).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from deeprule.llm.types import PromptTooLong

PENALTY_LAST_N = 64
"""Generated tokens the repeat penalty looks back over (llama-cpp-python's default)."""
TOP_K = 40
"""Candidates kept when sampling (retries); greedy decoding ignores it."""


@dataclass(frozen=True)
class Decoded:
    """The answer text and what it cost."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    evaluated_prompt_tokens: int
    """Prompt tokens actually evaluated (the rest was the kept prefix)."""
    forward_passes: int
    finish_reason: str
    """`stop` (the grammar completed), `length` (max_tokens) or `timeout`."""


def decode(llama: Any, matcher: Any, prompt: str, *, max_tokens: int, repeat_penalty: float,
           temperature: float = 0.0, seed: int = 0, deadline: float = float("inf")) -> Decoded:
    """Generate the answer to `prompt` under `matcher` (a fresh llguidance LLMatcher)."""
    tokens = llama.tokenize(prompt.encode("utf-8"), add_bos=True, special=True)
    if len(tokens) + max_tokens > llama.n_ctx():
        raise PromptTooLong(f"prompt of {len(tokens)} tokens + {max_tokens} for the answer "
                            f"exceed the model's context of {llama.n_ctx()} tokens",
                            len(tokens))
    todo = _keep_prefix(llama, tokens)
    evaluated = len(todo)
    rng = np.random.default_rng(seed)
    vocab = llama.n_vocab()
    out: list[int] = []
    passes, reason = 0, "length"
    while True:
        forced = matcher.compute_ff_tokens()
        if forced:
            matcher.consume_tokens(forced)
            out += forced
            todo += forced
        if matcher.is_stopped() or matcher.is_error():
            reason = "stop"
            break
        if len(out) >= max_tokens:
            break
        if time.monotonic() > deadline:
            reason = "timeout"
            break
        llama.eval(todo)
        passes += 1
        logits = np.ctypeslib.as_array(llama._ctx.get_logits_ith(-1), shape=(vocab,))
        token = _choose(logits, matcher, out, repeat_penalty, temperature, rng)
        if token == llama.token_eos() or not matcher.consume_token(token):
            reason = "stop"
            break
        out.append(token)
        todo = [token]
    text = llama.detokenize(out).decode("utf-8", errors="replace")
    return Decoded(text, len(tokens), len(out), evaluated, passes, reason)


def _keep_prefix(llama: Any, tokens: list[int]) -> list[int]:
    """Drop the part of the context that differs from `tokens`; return what is left to eval.

    At least one token is always re-evaluated, so the logits belong to this prompt.
    """
    kept = 0
    for old, new in zip(llama._input_ids.tolist(), tokens, strict=False):
        if old != new:
            break
        kept += 1
    kept = min(kept, len(tokens) - 1)
    if kept <= 0 or not llama._ctx.kv_cache_seq_rm(-1, kept, -1):
        llama.reset()
        kept = 0
    llama.n_tokens = kept
    return list(tokens[kept:])


def _choose(logits: np.ndarray, matcher: Any, out: list[int], repeat_penalty: float,
            temperature: float, rng: np.random.Generator) -> int:
    """The next token: allowed by the grammar, recent tokens penalized, greedy or sampled."""
    allowed = np.frombuffer(matcher.compute_logit_bias(), dtype=np.uint8)[: len(logits)] > 0
    scores = np.where(allowed, logits, -np.inf).astype(np.float64)
    if repeat_penalty != 1.0 and out:
        recent = np.unique(out[-PENALTY_LAST_N:])
        seen = scores[recent]
        scores[recent] = np.where(seen > 0, seen / repeat_penalty, seen * repeat_penalty)
    if temperature <= 0.0:
        return int(np.argmax(scores))
    top = np.argsort(scores)[-TOP_K:]
    top = top[np.isfinite(scores[top])]
    weights = np.exp((scores[top] - scores[top].max()) / temperature)
    return int(rng.choice(top, p=weights / weights.sum()))
