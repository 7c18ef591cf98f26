"""A DuckDB response cache: rematerializing unchanged inputs costs zero LLM calls.

The cache lives in its own DuckDB file (not the warehouse) so that LLM work
never competes for the warehouse's single writer, and so that answers survive a
warehouse rebuild. Connections are opened per batch and closed at once: no
connection is ever held while a model is generating.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

_DDL = """
CREATE TABLE IF NOT EXISTS llm_cache (
    key VARCHAR PRIMARY KEY,
    backend VARCHAR NOT NULL,
    model VARCHAR NOT NULL,
    schema_name VARCHAR NOT NULL,
    response VARCHAR NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL DEFAULT current_timestamp
);
ALTER TABLE llm_cache ADD COLUMN IF NOT EXISTS requests INTEGER DEFAULT 1
"""
_LOCK_RETRIES = 20
_LOCK_WAIT_S = 0.25


@dataclass(frozen=True)
class CachedResponse:
    """One stored answer (raw JSON text, re-validated on read) and what it cost."""

    key: str
    backend: str
    model: str
    schema_name: str
    response: str
    prompt_tokens: int
    completion_tokens: int
    requests: int = 1
    """Model requests the answer took (a cache written before this column: 1)."""


class ResponseCache:
    """Read many keys at once, buffer writes and flush them in small batches."""

    def __init__(self, path: str | Path, flush_every: int = 25) -> None:
        self.path = Path(path)
        self.flush_every = flush_every
        self._buffer: list[CachedResponse] = []
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            conn.execute(_DDL)

    @contextmanager
    def _connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A short-lived connection; waits briefly if another process holds the file."""
        for attempt in range(_LOCK_RETRIES):
            try:
                conn = duckdb.connect(str(self.path))
                break
            except duckdb.IOException:
                if attempt == _LOCK_RETRIES - 1:
                    raise
                time.sleep(_LOCK_WAIT_S)
        try:
            yield conn
        finally:
            conn.close()

    def get_many(self, keys: Iterable[str]) -> dict[str, CachedResponse]:
        """Every stored answer among `keys` (buffered, unflushed answers included)."""
        wanted = list(dict.fromkeys(keys))
        found = {r.key: r for r in self._buffer if r.key in set(wanted)}
        missing = [k for k in wanted if k not in found]
        if missing:
            with self._connect() as conn:
                rows = conn.execute(
                    "SELECT key, backend, model, schema_name, response, prompt_tokens, "
                    "completion_tokens, requests FROM llm_cache WHERE key IN (SELECT unnest(?))",
                    [missing],
                ).fetchall()
            found.update({row[0]: CachedResponse(*row) for row in rows})
        return found

    def put(self, entry: CachedResponse) -> None:
        self._buffer.append(entry)
        if len(self._buffer) >= self.flush_every:
            self.flush()

    def flush(self) -> None:
        """Write buffered answers (one short connection)."""
        if not self._buffer:
            return
        rows = [
            (e.key, e.backend, e.model, e.schema_name, e.response, e.prompt_tokens,
             e.completion_tokens, e.requests)
            for e in self._buffer
        ]
        with self._connect() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO llm_cache (key, backend, model, schema_name, response, "
                "prompt_tokens, completion_tokens, requests) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        self._buffer.clear()

    def size(self) -> int:
        self.flush()
        with self._connect() as conn:
            row = conn.execute("SELECT count(*) FROM llm_cache").fetchone()
        return int(row[0]) if row else 0
