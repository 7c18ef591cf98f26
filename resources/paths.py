"""Where the embedded defaults live on disk, each overridable by environment variable."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """Folder for the DuckDB file, MLflow store and model caches (DEEPRULE_DATA_HOME)."""
    path = Path(os.environ.get("DEEPRULE_DATA_HOME", PROJECT_ROOT / "data"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def duckdb_path() -> str:
    """The warehouse file every asset reads and writes (DEEPRULE_DUCKDB_PATH)."""
    return os.environ.get("DEEPRULE_DUCKDB_PATH", str(data_dir() / "deeprule.duckdb"))
