"""Dagster resources and the embedded defaults they start from."""

import os
from typing import Any

from dagster_duckdb import DuckDBResource
from dagster_duckdb_polars import DuckDBPolarsIOManager

from deeprule.features.embedding import PackagedSentenceEncoder
from resources.llm import LLMResource
from resources.mlflow import MlflowResource
from resources.paths import duckdb_path
from resources.world import WorldResource


def default_resources(database: str | None = None) -> dict[str, Any]:
    """Every resource the assets use, on embedded defaults overridable by environment.

    Tests pass their own `database` (a file under tmp_path).
    """
    db = database or duckdb_path()
    return {
        "io_manager": DuckDBPolarsIOManager(database=db, schema="main"),
        "duckdb": DuckDBResource(database=db),
        "world": WorldResource(
            preset=os.environ.get("DEEPRULE_PRESET", "demo"),
            overrides_json=os.environ.get("DEEPRULE_WORLD_OVERRIDES", ""),
            data_folder=os.environ.get("DEEPRULE_DATA_DIR", ""),
        ),
        "llm": LLMResource.from_env(),
        "sku_embedder": PackagedSentenceEncoder(),
        "mlflow": MlflowResource(tracking_uri=os.environ.get("MLFLOW_TRACKING_URI", "")),
    }
