"""`python -m pipelines.lock_stamp`: stamp requirements.lock with the digest of what it was
resolved from, so a dependency change in pyproject.toml without `make lock` fails the tests.

The digest covers what the resolver reads — pyproject.toml's `requires-python`,
`dependencies` and `optional-dependencies`, and lock-constraints.txt — and nothing else, so
a change of package data or tool settings does not ask for a new lock.
"""

from __future__ import annotations

import hashlib
import json
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STAMP_PREFIX = "# resolved from pyproject.toml + lock-constraints.txt, sha256 "


def inputs_digest(root: Path = ROOT) -> str:
    """sha256 of the resolver's inputs (canonical JSON of the dependency tables + the
    constraints file's text)."""
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    tables = {key: project.get(key) for key in
              ("requires-python", "dependencies", "optional-dependencies")}
    text = json.dumps(tables, sort_keys=True) + (root / "lock-constraints.txt").read_text()
    return hashlib.sha256(text.encode()).hexdigest()


def recorded_digest(lock: Path) -> str | None:
    """The digest stamped on the lock's first line (None: never stamped)."""
    first = lock.read_text().splitlines()[:1]
    return first[0].removeprefix(STAMP_PREFIX) if first and first[0].startswith(
        STAMP_PREFIX) else None


def stamp(lock: Path, root: Path = ROOT) -> None:
    """Write the current digest as the lock's first line (replacing an older stamp)."""
    lines = lock.read_text().splitlines(keepends=True)
    if lines and lines[0].startswith(STAMP_PREFIX):
        lines = lines[1:]
    lock.write_text(f"{STAMP_PREFIX}{inputs_digest(root)}\n" + "".join(lines))


if __name__ == "__main__":
    stamp(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "requirements.lock")
