"""The reflection loop's memory bank M_t and its retrieval by embedding similarity.

An entry is the paper's triple (customer type c, rule change Δf, loss change δL)
with what made it: the iteration, the LLM's reflection, and how it ended (a
fitted proposal, or a rule the check refused). Each prompt quotes the top-K
entries most similar to the segments failing now — TopK(M_<t, sim(c, c')) — by
cosine similarity of sentence embeddings (the packaged MiniLM) between the
failing segments' descriptions and each entry's segment and change; ties go to
the most recent entry.

The encoder is only asked when there is something to choose: with K or fewer
entries every entry is quoted and nothing is embedded (loading MiniLM costs
seconds). Vectors live only in memory, keyed by text: a resumed run recomputes
them when it first needs them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from deeprule.features.embedding import TextEncoder

QUOTED_CHARS = 160
"""A memory's rule and reflection are quoted up to this length (prompts stay small)."""


@dataclass(frozen=True)
class MemoryEntry:
    iteration: int
    segment: str
    """The customer type c the change was aimed at (a failing segment)."""
    change: str
    """Δf: the proposed rule on one line (or the refused one)."""
    loss_before: float | None
    loss_after: float | None
    """L(c) of the best rule then and of the proposal; None when it was never fitted."""
    reflection: str = ""
    outcome: str = ""
    """`fitted`, or why the rule was refused."""

    @property
    def loss_change(self) -> float | None:
        if self.loss_before is None or self.loss_after is None:
            return None
        return self.loss_after - self.loss_before

    def key(self) -> str:
        """What similarity is measured on: the segment and the change."""
        return f"customer segment {self.segment}; rule {self.change}"

    def line(self) -> str:
        """How the entry is quoted in a prompt (rule and reflection cut to `QUOTED_CHARS`)."""
        if self.loss_change is None:
            effect = self.outcome
        else:
            effect = (f"loss in {self.segment} {self.loss_before:.3f} -> "
                      f"{self.loss_after:.3f} ({self.loss_change:+.3f})")
        reflection = (f"; reflection: {_cut(self.reflection)}" if self.reflection else "")
        return (f"iteration {self.iteration}, segment {self.segment}: rule "
                f"{_cut(self.change)}; {effect}{reflection}")


@dataclass
class MemoryBank:
    entries: list[MemoryEntry] = field(default_factory=list)
    _vectors: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def add(self, entries: Sequence[MemoryEntry]) -> None:
        self.entries.extend(entries)

    def similar(self, segments: Sequence[str], k: int, encoder: TextEncoder
                ) -> list[MemoryEntry]:
        """The `k` entries most similar to any of `segments`, most similar first."""
        if k <= 0 or not self.entries:
            return []
        if len(self.entries) <= k or not segments:
            return list(reversed(self.entries))[:k]
        queries = [f"customer segment {s}" for s in segments]
        scores = (self._embed(queries, encoder)
                  @ self._embed([e.key() for e in self.entries], encoder).T).max(axis=0)
        recency = np.arange(len(self.entries))
        order = np.lexsort((-recency, -np.round(scores, 6)))
        return [self.entries[i] for i in order[:k]]

    def _embed(self, texts: list[str], encoder: TextEncoder) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._vectors]
        if missing:
            self._vectors.update(zip(missing, _unit(encoder.encode(missing)), strict=True))
        return np.vstack([self._vectors[t] for t in texts])


def _cut(text: str) -> str:
    return text if len(text) <= QUOTED_CHARS else text[:QUOTED_CHARS - 3] + "..."


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)
