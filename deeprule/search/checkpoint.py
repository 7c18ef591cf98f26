"""A search's state on disk after every finished iteration, so a killed run resumes.

One JSON file per search run, written to a temporary file and renamed over the old
one (`os.replace` is atomic): after `kill -9` the file holds the last finished
iteration, whole. The `key` names everything the run's outcome depends on (start
rule, settings, candidate rows, model); a file written under another key is not
resumed, it is started over.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any


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
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(f".{os.getpid()}.partial")
        partial.write_text(json.dumps({"key": self.key, "state": state}))
        os.replace(partial, self.path)


def run_key(*parts: object) -> str:
    """A short digest of what a search's outcome depends on."""
    return hashlib.sha256(json.dumps([str(p) for p in parts]).encode()).hexdigest()[:16]
