"""llguidance matchers over a one-byte-per-token vocabulary: grammar checks without a model."""

from llguidance import LLMatcher, LLTokenizer, TokenizerWrapper

EOS = 256


class _ByteVocabulary:
    """Token i is byte i; 256 is the end of text."""

    eos_token_id = EOS
    bos_token_id = None
    tokens = [bytes([i]) for i in range(256)] + [b"<eos>"]
    special_token_ids = [EOS]

    def __call__(self, text: bytes | str) -> list[int]:
        return list(text if isinstance(text, bytes) else text.encode())


BYTES = LLTokenizer(TokenizerWrapper(_ByteVocabulary()))


def matcher(lark: str) -> LLMatcher:
    return LLMatcher(BYTES, LLMatcher.grammar_from_lark(lark), log_level=0)


def accepts(lark: str, text: str) -> bool:
    """Whether the grammar admits exactly `text`."""
    m = matcher(lark)
    return (m.consume_tokens(BYTES.tokenize_bytes(text.encode())) and not m.is_error()
            and m.is_accepting())
