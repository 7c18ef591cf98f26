"""MLflow tracking for the scorer assets: a local SQLite store by default, no server.

dagster-mlflow targets ops; this small resource does what the assets need:
point MLflow at the store, open runs tagged with the Dagster run id, asset
and partition, and turn run ids and model versions into UI links. It never
starts the UI (`make mlflow` does).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import mlflow
from mlflow.tracking import MlflowClient
from pydantic import Field

from resources.paths import data_dir

# Loading a registered model draws a progress bar per artifact file: noise in run logs.
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


class MlflowResource(dg.ConfigurableResource):
    """Where runs and registered models go, and where the UI is expected to listen."""

    tracking_uri: str = Field(
        default="", description="Tracking/registry URI; empty = sqlite:///<data dir>/mlflow.db "
        "(resources/__init__.py fills it from MLFLOW_TRACKING_URI).")
    experiment: str = Field(default="deeprule", description="Experiment the runs go to.")
    ui_url: str = Field(default="http://127.0.0.1:5000",
                        description="Base URL of the MLflow UI, for metadata links.")

    def uri(self) -> str:
        return self.tracking_uri or f"sqlite:///{data_dir() / 'mlflow.db'}"

    def activate(self) -> str:
        """Point MLflow (tracking and registry) at the store; return the experiment id.

        A new experiment on a local SQLite store keeps its artifacts next to the
        database (not in ./mlruns of whatever directory the process runs in).
        """
        uri = self.uri()
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
        found = mlflow.get_experiment_by_name(self.experiment)
        if found is not None:
            experiment_id = found.experiment_id
        else:
            experiment_id = mlflow.create_experiment(self.experiment, self._artifact_location(uri))
        mlflow.set_experiment(experiment_id=experiment_id)
        return experiment_id

    def _artifact_location(self, uri: str) -> str | None:
        if not uri.startswith("sqlite:///"):
            return None
        folder = Path(uri.removeprefix("sqlite:///")).resolve().parent / "mlartifacts"
        folder.mkdir(parents=True, exist_ok=True)
        return folder.as_uri()

    @contextmanager
    def run(self, context: dg.AssetExecutionContext, name: str,
            nested: bool = False) -> Iterator[mlflow.ActiveRun]:
        """An MLflow run tagged with the Dagster run, asset and partition."""
        if not nested:
            self.activate()
        tags = {
            "dagster.run_id": context.run_id,
            "dagster.asset": context.asset_key.to_user_string(),
            "dagster.partition": context.partition_key if context.has_partition_key else "",
        }
        with mlflow.start_run(run_name=name, nested=nested, tags=tags) as active:
            yield active

    def run_url(self, run_id: str) -> dg.MetadataValue:
        experiment_id = MlflowClient(self.uri()).get_run(run_id).info.experiment_id
        return dg.MetadataValue.url(f"{self.ui_url}/#/experiments/{experiment_id}/runs/{run_id}")

    def model_url(self, name: str, version: str) -> dg.MetadataValue:
        return dg.MetadataValue.url(f"{self.ui_url}/#/models/{name}/versions/{version}")
