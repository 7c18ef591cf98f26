"""MLflow tracking for the scorer assets: a local SQLite store by default, no server.

dagster-mlflow targets ops; this small resource does what the assets need:
an explicit client on the configured store (never MLflow's process-global
tracking URI or active run), runs tagged with the Dagster run id, asset and
partition, and UI links for run ids and model versions. It never starts the
UI (`make mlflow` does).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
from mlflow.entities import RunStatus
from mlflow.tracking import MlflowClient
from pydantic import Field

from deeprule.models.registry import TrackedRun, tracking_client
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

    def client(self) -> MlflowClient:
        """A client on this store, tracking and model registry alike."""
        return tracking_client(self.uri())

    def experiment_id(self, client: MlflowClient) -> str:
        """The experiment's id, created on first use.

        A new experiment on a local SQLite store keeps its artifacts next to the
        database (not in ./mlruns of whatever directory the process runs in).
        """
        found = client.get_experiment_by_name(self.experiment)
        if found is not None:
            return found.experiment_id
        return client.create_experiment(self.experiment, self._artifact_location(self.uri()))

    def _artifact_location(self, uri: str) -> str | None:
        if not uri.startswith("sqlite:///"):
            return None
        folder = Path(uri.removeprefix("sqlite:///")).resolve().parent / "mlartifacts"
        folder.mkdir(parents=True, exist_ok=True)
        return folder.as_uri()

    @contextmanager
    def run(self, context: dg.AssetExecutionContext, name: str,
            parent: TrackedRun | None = None) -> Iterator[TrackedRun]:
        """An MLflow run tagged with the Dagster run, asset and partition (nested under
        `parent` if given); FINISHED when the block ends, FAILED if it raises."""
        client = parent.client if parent else self.client()
        tags = {
            "dagster.run_id": context.run_id,
            "dagster.asset": context.asset_key.to_user_string(),
            "dagster.partition": context.partition_key if context.has_partition_key else "",
        }
        if parent:
            tags["mlflow.parentRunId"] = parent.run_id
        experiment_id = (client.get_run(parent.run_id).info.experiment_id if parent
                         else self.experiment_id(client))
        created = client.create_run(experiment_id, run_name=name, tags=tags)
        run = TrackedRun(client, created.info.run_id)
        try:
            yield run
        except BaseException:
            client.set_terminated(run.run_id, RunStatus.to_string(RunStatus.FAILED))
            raise
        client.set_terminated(run.run_id, RunStatus.to_string(RunStatus.FINISHED))

    def run_url(self, run_id: str) -> dg.MetadataValue:
        experiment_id = self.client().get_run(run_id).info.experiment_id
        return dg.MetadataValue.url(f"{self.ui_url}/#/experiments/{experiment_id}/runs/{run_id}")

    def model_url(self, name: str, version: str) -> dg.MetadataValue:
        return dg.MetadataValue.url(f"{self.ui_url}/#/models/{name}/versions/{version}")
