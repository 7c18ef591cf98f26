"""Logging scorers to MLflow and loading them back by registered version.

Each training run carries its params, per-epoch metrics (logged by the epoch
sink during training), the network, the feature schema and the z-score
statistics; `feature_spec.json` holds everything else scoring must rebuild.
The network is stored without pickle: its weights as a state dict, loaded
with `torch.load(weights_only=True)`, and its class name and constructor
arguments as JSON, rebuilt from our own code (`nets.rebuild`). Loading a
model can therefore never execute code stored in the artifact.
Nothing here knows about Dagster: the caller opens the run.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import torch
from mlflow.tracking import MlflowClient

from deeprule.models.demand import DemandScorer
from deeprule.models.features import FeatureSpec
from deeprule.models.nets import rebuild
from deeprule.models.training import EpochSink
from deeprule.models.uplift import UpliftScorer

DEMAND_MODEL = "deeprule-demand"
UPLIFT_MODEL = "deeprule-uplift"
SPEC_FILE = "feature_spec.json"
MODEL_DIR = "model"
WEIGHTS_FILE = "state_dict.pt"
ARCHITECTURE_FILE = "architecture.json"
CHAMPION = "champion"
"""Registry alias moved to every newly registered version."""


@dataclass(frozen=True)
class ModelRef:
    """Where a logged scorer lives: its run, and its registered version if any."""

    run_id: str
    name: str | None = None
    version: str | None = None

    @property
    def uri(self) -> str:
        if self.name and self.version:
            return f"models:/{self.name}/{self.version}"
        return f"runs:/{self.run_id}/{MODEL_DIR}"


def mlflow_sink(prefix: str = "") -> EpochSink:
    """Log each epoch's metrics to the active run (step 0 = before training)."""

    def sink(metrics: dict[str, float], step: int) -> None:
        mlflow.log_metrics({f"{prefix}{k}": v for k, v in metrics.items()}, step=step)

    return sink


def log_scorer(net: torch.nn.Module, spec: FeatureSpec, params: Mapping[str, Any],
               metrics: Mapping[str, float], register_as: str | None = None) -> ModelRef:
    """Log params, final metrics, schema, z-scores and the model to the active run;
    register it under `register_as` (and point the champion alias at it)."""
    run = mlflow.active_run()
    if run is None:
        raise RuntimeError("log_scorer needs an active MLflow run")
    mlflow.log_params({k: _param(v) for k, v in params.items()})
    mlflow.log_metrics(dict(metrics))
    mlflow.log_dict(spec.to_dict(), SPEC_FILE)
    mlflow.log_dict(spec.schema(), "feature_schema.json")
    mlflow.log_dict({c: {"mean": m, "std": s} for c, (m, s) in spec.zscore.items()},
                    "zscore.json")
    _log_network(net)
    if register_as is None:
        return ModelRef(run.info.run_id)
    version = _register(run, register_as)
    return ModelRef(run.info.run_id, register_as, version)


def _log_network(net: torch.nn.Module) -> None:
    """Weights (state dict) and architecture (class + constructor arguments) under `model/`."""
    with tempfile.TemporaryDirectory() as folder:
        torch.save(net.state_dict(), Path(folder) / WEIGHTS_FILE)
        mlflow.log_artifact(str(Path(folder) / WEIGHTS_FILE), MODEL_DIR)
    mlflow.log_dict({"class": type(net).__name__, "arguments": net.architecture,
                     "torch": torch.__version__}, f"{MODEL_DIR}/{ARCHITECTURE_FILE}")


def _register(run: mlflow.ActiveRun, name: str) -> str:
    """A new version of `name` pointing at this run's model folder; the champion alias moves."""
    client = MlflowClient()
    if not client.search_registered_models(filter_string=f"name = '{name}'"):
        client.create_registered_model(name)
    version = client.create_model_version(name, f"{run.info.artifact_uri}/{MODEL_DIR}",
                                          run.info.run_id)
    client.set_registered_model_alias(name, CHAMPION, str(version.version))
    return str(version.version)


def _param(value: Any) -> str | float | int | bool:
    return value if isinstance(value, str | float | int | bool) else str(value)


def resolve(ref: ModelRef) -> ModelRef:
    """Fill in the run id of a registered version (name + version known)."""
    if ref.run_id or not (ref.name and ref.version):
        return ref
    version = MlflowClient().get_model_version(ref.name, ref.version)
    return ModelRef(version.run_id, ref.name, ref.version)


def load_spec(run_id: str) -> FeatureSpec:
    return FeatureSpec.from_dict(mlflow.artifacts.load_dict(f"runs:/{run_id}/{SPEC_FILE}"))


def load_network(ref: ModelRef) -> torch.nn.Module:
    """The logged network, rebuilt from our code with weights-only loading (no pickle)."""
    folder = Path(mlflow.artifacts.download_artifacts(ref.uri))
    architecture = json.loads((folder / ARCHITECTURE_FILE).read_text())
    state = torch.load(folder / WEIGHTS_FILE, weights_only=True, map_location="cpu")
    return rebuild(architecture["class"], architecture["arguments"], state)


def load_demand(ref: ModelRef) -> DemandScorer:
    """The demand scorer of a registered version (or a run)."""
    ref = resolve(ref)
    return DemandScorer(load_network(ref), load_spec(ref.run_id))


def load_uplift(ref: ModelRef) -> UpliftScorer:
    """The uplift scorer of a registered version (or a run), with its variant's price view."""
    ref = resolve(ref)
    within_pair = MlflowClient().get_run(ref.run_id).data.params.get("within_pair", "True")
    return UpliftScorer(load_network(ref), load_spec(ref.run_id),
                        within_pair == "True")
