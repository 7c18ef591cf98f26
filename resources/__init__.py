"""Dagster resources and the embedded defaults they start from."""

from typing import Any

from dagster_duckdb import DuckDBResource

from deeprule.features.embedding import PackagedSentenceEncoder
from resources.llm import LLMResource
from resources.mlflow import MlflowResource
from resources.paths import duckdb_path
from resources.settings import env_settings
from resources.warehouse import AtomicDuckDBPolarsIOManager
from resources.world import WorldResource


def default_resources(database: str | None = None) -> dict[str, Any]:
    """Every resource the assets use, on embedded defaults overridable by environment
    (resources/settings.py: the variables, passed as `dg.EnvVar`).

    Tests pass their own `database` (a file under tmp_path).
    """
    db = database or duckdb_path()
    return {
        "io_manager": AtomicDuckDBPolarsIOManager(database=db, schema="main"),
        "duckdb": DuckDBResource(database=db),
        "world": WorldResource(**env_settings("world")),
        "llm": LLMResource(**env_settings("llm")),
        "sku_embedder": PackagedSentenceEncoder(),
        "mlflow": MlflowResource(**env_settings("mlflow")),
    }
