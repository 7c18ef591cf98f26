"""Named random streams, so each part of the world is seeded on its own.

Every generator draws from `stream(seed, name, *index)`: adding draws to one
part (or generating months out of order) never shifts the numbers of another.
"""

from __future__ import annotations

import zlib

import numpy as np


def stream(seed: int, name: str, *index: int) -> np.random.Generator:
    """A generator determined only by the world seed, a stream name and optional indices."""
    key = zlib.crc32(name.encode("utf-8"))
    return np.random.default_rng(np.random.SeedSequence([seed, key, *index]))
