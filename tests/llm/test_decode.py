"""Constrained decoding with fast-forwarded tokens, on a scripted model and grammar."""

import ctypes

import numpy as np
import pytest

from deeprule.llm.decode import _choose, decode
from deeprule.llm.types import PromptTooLong

EOS, OPEN, A, B, CLOSE = 0, 1, 2, 3, 4
CHARS = {OPEN: "{", A: "a", B: "b", CLOSE: "}", 5: "x", 6: "y"}
CODES = {c: t for t, c in CHARS.items()}


class FakeContext:
    def __init__(self, model: "FakeLlama") -> None:
        self.model = model

    def kv_cache_seq_rm(self, seq_id: int, p0: int, p1: int) -> bool:
        return True

    def get_logits_ith(self, i: int):
        row = (ctypes.c_float * len(self.model.logits))(*self.model.logits)
        self.model.rows.append(row)  # keep the buffer alive while it is read
        return ctypes.cast(row, ctypes.POINTER(ctypes.c_float))


class FakeLlama:
    """Remembers every evaluated batch; its next-token logits are fixed."""

    def __init__(self, logits: list[float]) -> None:
        self.logits = logits
        self.ids: list[int] = []
        self.n_tokens = 0
        self.batches: list[list[int]] = []
        self.rows: list = []
        self._ctx = FakeContext(self)

    @property
    def _input_ids(self) -> np.ndarray:
        return np.array(self.ids[: self.n_tokens])

    def tokenize(self, text: bytes, add_bos: bool, special: bool) -> list[int]:
        return [CODES[c] for c in text.decode()]

    def detokenize(self, tokens: list[int]) -> bytes:
        return "".join(CHARS[t] for t in tokens).encode()

    def n_ctx(self) -> int:
        return 4096

    def n_vocab(self) -> int:
        return len(self.logits)

    def token_eos(self) -> int:
        return EOS

    def reset(self) -> None:
        self.n_tokens = 0

    def eval(self, tokens: list[int]) -> None:
        self.batches.append(list(tokens))
        self.ids = self.ids[: self.n_tokens] + list(tokens)
        self.n_tokens = len(self.ids)


class BraceMatcher:
    """The grammar `{` (a|b) `}`: the braces are forced, the letter is a choice."""

    def __init__(self) -> None:
        self.out: list[int] = []

    def compute_ff_tokens(self) -> list[int]:
        return {0: [OPEN], 2: [CLOSE]}.get(len(self.out), [])

    def consume_tokens(self, tokens: list[int]) -> bool:
        self.out += tokens
        return True

    def consume_token(self, token: int) -> bool:
        return self.consume_tokens([token])

    def is_stopped(self) -> bool:
        return len(self.out) == 3

    def is_error(self) -> bool:
        return False

    def compute_logit_bias(self) -> bytes:
        allowed = {A, B} if len(self.out) == 1 else set()
        return bytes(200 if t in allowed else 0 for t in range(7))


def test_forced_tokens_ride_along_with_the_sampled_ones() -> None:
    llama = FakeLlama([0.0, 0.0, 1.0, 2.0, 0.0, 0.0, 0.0])
    out = decode(llama, BraceMatcher(), "xy", max_tokens=10, repeat_penalty=1.0)
    assert out.text == "{b}" and out.finish_reason == "stop"
    assert out.completion_tokens == 3 and out.forward_passes == 1  # one pass for 3 tokens
    assert llama.batches == [[CODES["x"], CODES["y"], OPEN]]  # `}` completes: never evaluated


def test_the_evaluated_prompt_prefix_is_kept_between_calls() -> None:
    llama = FakeLlama([0.0, 0.0, 1.0, 2.0, 0.0, 0.0, 0.0])
    first = decode(llama, BraceMatcher(), "xxxy", max_tokens=10, repeat_penalty=1.0)
    second = decode(llama, BraceMatcher(), "xxxx", max_tokens=10, repeat_penalty=1.0)
    assert (first.evaluated_prompt_tokens, second.evaluated_prompt_tokens) == (4, 1)
    assert llama.batches[-1][0] == CODES["x"] and second.prompt_tokens == 4
    again = decode(llama, BraceMatcher(), "xxxx", max_tokens=10, repeat_penalty=1.0)
    assert again.evaluated_prompt_tokens == 1 and again.text == second.text  # fresh logits


def test_the_grammar_mask_and_the_repeat_penalty_decide_the_choice() -> None:
    matcher = BraceMatcher()
    matcher.consume_tokens([OPEN])
    rng = np.random.default_rng(0)
    logits = np.array([9.0, 9.0, 1.05, 1.0, 9.0, 9.0, 9.0])  # only a and b are allowed
    assert _choose(logits, matcher, [], 1.1, 0.0, rng) == A
    assert _choose(logits, matcher, [A], 1.1, 0.0, rng) == B  # a was just written
    sampled = {_choose(logits, matcher, [], 1.0, 0.4, rng) for _ in range(50)}
    assert sampled == {A, B}


def test_a_spent_token_limit_or_deadline_ends_the_answer() -> None:
    llama = FakeLlama([0.0, 0.0, 1.0, 2.0, 0.0, 0.0, 0.0])
    short = decode(llama, BraceMatcher(), "xy", max_tokens=1, repeat_penalty=1.0)
    assert short.finish_reason == "length" and short.text == "{"
    late = decode(llama, BraceMatcher(), "xy", max_tokens=10, repeat_penalty=1.0, deadline=0.0)
    assert late.finish_reason == "timeout"


def test_a_prompt_without_room_for_the_answer_is_refused_before_any_evaluation() -> None:
    llama = FakeLlama([0.0] * 7)
    llama.n_ctx = lambda: 12  # type: ignore[method-assign]
    with pytest.raises(PromptTooLong, match="prompt of 4 tokens \\+ 10 for the answer exceed"):
        decode(llama, BraceMatcher(), "xyxy", max_tokens=10, repeat_penalty=1.0)
    assert llama.batches == []
    assert decode(llama, BraceMatcher(), "xy", max_tokens=10, repeat_penalty=1.0).text == "{a}"
