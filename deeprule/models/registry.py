"""Logging scorers to MLflow and loading them back by registered version.

Each training run carries its params, per-epoch metrics (logged by the epoch
sink during training), the network, the feature schema and the z-score
statistics; `feature_spec.json` holds everything else scoring must rebuild.
The network is stored without pickle: its weights as a state dict, loaded
with `torch.load(weights_only=True)`, and its class name and constructor
arguments as JSON, rebuilt from our own code (`nets.rebuild`). Loading a
model can therefore never execute code stored in the artifact.
Nothing here knows about Dagster, and nothing uses MLflow's process-global
state (tracking URI, active run): every call goes through the `MlflowClient`
it is given (its tracking and registry URI) and the run id it names.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from mlflow.entities import Metric, Param, RunStatus
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST, ErrorCode
from mlflow.tracking import MlflowClient

from deeprule.models.demand import DemandScorer
from deeprule.models.frames import FeatureSpec
from deeprule.models.nets import rebuild
from deeprule.models.training import EpochSink
from deeprule.models.uplift import UpliftScorer

DEMAND_MODEL = "deeprule-demand"
UPLIFT_MODEL = "deeprule-uplift"
SPEC_FILE = "feature_spec.json"
MODEL_DIR = "model"
"""Run artifact folder holding the network: weights and architecture."""
WEIGHTS_FILE = "state_dict.pt"
ARCHITECTURE_FILE = "architecture.json"
CHAMPION = "champion"
"""Registry alias moved to every newly registered version."""


def tracking_client(uri: str) -> MlflowClient:
    """A client whose tracking and model registry are both `uri`."""
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


@dataclass(frozen=True)
class TrackedRun:
    """An open MLflow run and the client that reaches its store."""

    client: MlflowClient
    run_id: str


@dataclass(frozen=True)
class ModelRef:
    """Where a logged scorer lives: its run, and its registered version if any."""

    run_id: str
    name: str | None = None
    version: str | None = None


def mlflow_sink(run: TrackedRun, prefix: str = "") -> EpochSink:
    """Log each epoch's metrics to `run` (step 0 = before training)."""

    def sink(metrics: dict[str, float], step: int) -> None:
        run.client.log_batch(run.run_id, metrics=_metrics(metrics, step, prefix))

    return sink


def _metrics(values: Mapping[str, float], step: int = 0, prefix: str = "") -> list[Metric]:
    now = int(time.time() * 1000)
    return [Metric(f"{prefix}{k}", float(v), now, step) for k, v in values.items()]


def log_scorer(run: TrackedRun, net: torch.nn.Module, spec: FeatureSpec,
               params: Mapping[str, Any], metrics: Mapping[str, float],
               register_as: str | None = None) -> ModelRef:
    """Log params, final metrics, schema, z-scores and the model to `run` (which must be
    active); register it under `register_as` (and point the champion alias at it)."""
    client, run_id = run.client, run.run_id
    status = client.get_run(run_id).info.status
    if status != RunStatus.to_string(RunStatus.RUNNING):
        raise RuntimeError(f"log_scorer needs an active MLflow run (run {run_id} is {status})")
    client.log_batch(run_id, metrics=_metrics(metrics),
                     params=[Param(k, str(_param(v))) for k, v in params.items()])
    client.log_dict(run_id, spec.to_dict(), SPEC_FILE)
    client.log_dict(run_id, spec.schema(), "feature_schema.json")
    client.log_dict(run_id, {c: {"mean": m, "std": s} for c, (m, s) in spec.zscore.items()},
                    "zscore.json")
    _log_network(run, net)
    if not register_as:
        return ModelRef(run_id)
    version = _register(client, register_as, run_id)
    client.set_registered_model_alias(register_as, CHAMPION, version)
    return ModelRef(run_id, register_as, version)


def _log_network(run: TrackedRun, net: torch.nn.Module) -> None:
    """Weights (state dict) and architecture (class + constructor arguments) under `model/`."""
    with tempfile.TemporaryDirectory() as folder:
        torch.save(net.state_dict(), Path(folder) / WEIGHTS_FILE)
        run.client.log_artifact(run.run_id, str(Path(folder) / WEIGHTS_FILE), MODEL_DIR)
    run.client.log_dict(run.run_id, {"class": type(net).__name__, "arguments": net.architecture,
                                     "torch": torch.__version__},
                        f"{MODEL_DIR}/{ARCHITECTURE_FILE}")


def _register(client: MlflowClient, name: str, run_id: str) -> str:
    """A new version of `name` (created if new) from the run's saved model."""
    try:
        client.get_registered_model(name)
    except MlflowException as err:
        if err.error_code != ErrorCode.Name(RESOURCE_DOES_NOT_EXIST):
            raise
        client.create_registered_model(name)
    source = f"{client.get_run(run_id).info.artifact_uri}/{MODEL_DIR}"
    return str(client.create_model_version(name, source, run_id=run_id).version)


def _param(value: Any) -> str | float | int | bool:
    return value if isinstance(value, str | float | int | bool) else str(value)


def resolve(client: MlflowClient, ref: ModelRef) -> ModelRef:
    """Fill in the run id of a registered version (name + version known)."""
    if ref.run_id or not (ref.name and ref.version):
        return ref
    version = client.get_model_version(ref.name, ref.version)
    return ModelRef(version.run_id, ref.name, ref.version)


def load_spec(client: MlflowClient, run_id: str) -> FeatureSpec:
    with tempfile.TemporaryDirectory() as folder:
        path = client.download_artifacts(run_id, SPEC_FILE, folder)
        return FeatureSpec.from_dict(json.loads(Path(path).read_text()))


def load_network(client: MlflowClient, run_id: str) -> torch.nn.Module:
    """The logged network, rebuilt from our code with weights-only loading (no pickle)."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(client.download_artifacts(run_id, MODEL_DIR, tmp))
        architecture = json.loads((folder / ARCHITECTURE_FILE).read_text())
        state = torch.load(folder / WEIGHTS_FILE, weights_only=True, map_location="cpu")
    return rebuild(architecture["class"], architecture["arguments"], state)


def load_demand(client: MlflowClient, ref: ModelRef) -> DemandScorer:
    """The demand scorer of a registered version (or a run)."""
    ref = resolve(client, ref)
    return DemandScorer(load_network(client, ref.run_id), load_spec(client, ref.run_id))


def load_uplift(client: MlflowClient, ref: ModelRef) -> UpliftScorer:
    """The uplift scorer of a registered version (or a run), with its variant's price view."""
    ref = resolve(client, ref)
    within_pair = client.get_run(ref.run_id).data.params.get("within_pair", "True")
    return UpliftScorer(load_network(client, ref.run_id), load_spec(client, ref.run_id),
                        within_pair == "True")
