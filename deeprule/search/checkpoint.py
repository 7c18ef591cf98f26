"""A search's state on disk after every finished iteration, so a killed run resumes.

One JSON file per search run, written to a temporary file and renamed over the old
one (`os.replace` is atomic): after `kill -9` the file holds the last finished
iteration, whole. The `key` names everything the run's outcome depends on (start
rule, settings, candidate rows, model); a file written under another key is not
resumed, it is started over. A searcher adds its own settings to the caller's key
(`within`), so a changed budget, seed or fitness never resumes another run's state.
State holding tensors (the RL searcher's networks, optimizer and replay buffer) goes
to a sibling `.pt` file through `torch.save`, written and renamed the same way.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deeprule.search.objective import Candidates


@dataclass(frozen=True)
class Checkpoint:
    path: Path
    key: str

    def load(self) -> dict[str, Any] | None:
        """The saved state if it was written under this key, else None."""
        try:
            saved = json.loads(self.path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        return saved["state"] if saved.get("key") == self.key else None

    def save(self, state: dict[str, Any]) -> None:
        self._replace(self.path, lambda partial: partial.write_text(
            json.dumps({"key": self.key, "state": state})))

    def within(self, *parts: object) -> Checkpoint:
        """The same file under a key that also names `parts` (a searcher's settings)."""
        return Checkpoint(self.path, run_key(self.key, *parts))

    @property
    def tensor_path(self) -> Path:
        return self.path.with_suffix(".pt")

    def load_tensors(self) -> dict[str, Any] | None:
        """The saved tensor state if written under this key, else None (`weights_only`:
        tensors, numbers, strings and containers are read back, never arbitrary objects)."""
        import torch

        try:
            saved = torch.load(self.tensor_path, weights_only=True)
        except (FileNotFoundError, RuntimeError, EOFError, pickle.UnpicklingError):
            return None
        return saved["state"] if saved.get("key") == self.key else None

    def save_tensors(self, state: dict[str, Any]) -> None:
        import torch

        self._replace(self.tensor_path,
                      lambda partial: torch.save({"key": self.key, "state": state}, partial))

    @staticmethod
    def _replace(path: Path, write: Callable[[Path], object]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f"{path.suffix}.{os.getpid()}.partial")
        write(partial)
        os.replace(partial, path)


def run_key(*parts: object) -> str:
    """A short digest of what a search's outcome depends on."""
    return hashlib.sha256(json.dumps([str(p) for p in parts]).encode()).hexdigest()[:16]


def candidates_key(cand: Candidates) -> str:
    """A digest of the candidate rows a search scores against: every rule feature, the
    demand model's price response and the rows' identities and segments. A search on
    other rows, or under another demand model, never resumes this one's state."""
    digest = hashlib.sha256(cand.rows.hash_rows().to_numpy().tobytes())
    arrays = [cand.columns[name] for name in sorted(cand.columns)]
    arrays += [cand.response.level, cand.response.slopes, cand.response.r_usual,
               cand.response.list_price]
    for array in arrays:
        digest.update(np.ascontiguousarray(array, dtype=np.float64).tobytes())
    return digest.hexdigest()[:16]
