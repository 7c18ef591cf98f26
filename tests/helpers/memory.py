"""A stand-in sentence encoder for memory retrieval: bag of words, no model to load."""

import re

import numpy as np


class WordEncoder:
    """Texts as word-count vectors (hashed into 256 slots): texts sharing words are similar."""

    name = "word-counts"

    def __init__(self) -> None:
        self.calls = 0

    def encode(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        vectors = np.zeros((len(texts), 256))
        for row, text in enumerate(texts):
            for word in re.findall(r"[a-z_]+", text.lower()):
                vectors[row, sum(map(ord, word)) % 256] += 1.0
        return vectors
