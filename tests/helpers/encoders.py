"""A text encoder double for the SKU embedding (no model download, no torch)."""

import hashlib

import numpy as np


class HashEncoder:
    """Test double: deterministic vectors from a text hash, counting what it was asked."""

    name = "test-hash-encoder"

    def __init__(self) -> None:
        self.calls: list[str] = []

    def encode(self, texts: list[str]) -> np.ndarray:
        self.calls.extend(texts)
        rows = [np.frombuffer(hashlib.sha256(t.encode()).digest(), np.uint8) for t in texts]
        return np.vstack(rows).astype(np.float64) / 255.0
