"""MLflow round trip on a throwaway SQLite store: log, register, load by version, same scores."""

from pathlib import Path

import mlflow
import numpy as np
import pytest
import torch
from mlflow.tracking import MlflowClient

from deeprule.models import registry
from deeprule.models.dataset import ScorerData
from deeprule.models.demand import DemandFit
from deeprule.models.nets import rebuild
from deeprule.models.uplift import UpliftFit


@pytest.fixture()
def tracking(tmp_path: Path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    mlflow.set_experiment(experiment_id=mlflow.create_experiment(
        "test", (tmp_path / "artifacts").as_uri()))
    yield uri
    mlflow.set_tracking_uri(previous)
    mlflow.set_registry_uri(previous)


def test_demand_and_uplift_roundtrip_by_registered_version(
        tracking: str, demand_fit: DemandFit, uplift_fit: UpliftFit,
        tiny_data: ScorerData) -> None:
    sink = registry.mlflow_sink()
    with mlflow.start_run() as run:
        sink({"val_wape": 0.5}, 0)
        sink({"val_wape": 0.4}, 1)
        demand_ref = registry.log_scorer(demand_fit.scorer.net, tiny_data.spec,
                                         {"beta": 0.3, "grid": [1, 2]}, {"test_wape": 0.3},
                                         register_as=registry.DEMAND_MODEL)
    with mlflow.start_run():
        uplift_ref = registry.log_scorer(uplift_fit.scorer.net, tiny_data.spec,
                                         uplift_fit.config.params(), {},
                                         register_as=registry.UPLIFT_MODEL)
    assert demand_ref.run_id == run.info.run_id and demand_ref.version == "1"
    client = MlflowClient()
    assert [m.value for m in client.get_metric_history(run.info.run_id, "val_wape")] == [0.5, 0.4]
    logged = client.get_run(run.info.run_id)
    assert logged.data.params["beta"] == "0.3"
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {registry.SPEC_FILE, "feature_schema.json", "zscore.json"} <= artifacts
    stored = {a.path for a in client.list_artifacts(run.info.run_id, registry.MODEL_DIR)}
    assert stored == {f"{registry.MODEL_DIR}/{registry.WEIGHTS_FILE}",
                      f"{registry.MODEL_DIR}/{registry.ARCHITECTURE_FILE}"}  # no pickle
    alias = client.get_model_version_by_alias(registry.DEMAND_MODEL, registry.CHAMPION)
    assert str(alias.version) == "1"

    demand = registry.load_demand(registry.ModelRef("", registry.DEMAND_MODEL, "1"))
    np.testing.assert_allclose(demand.predict(tiny_data.test),
                               demand_fit.scorer.predict(tiny_data.test), rtol=1e-6)
    assert demand.spec == tiny_data.spec
    uplift = registry.load_uplift(registry.ModelRef("", registry.UPLIFT_MODEL,
                                                    uplift_ref.version))
    moved = tiny_data.test.column("unit_price") * 1.05
    np.testing.assert_allclose(uplift.effects(tiny_data.test, moved)["delta_units"],
                               uplift_fit.scorer.effects(tiny_data.test, moved)["delta_units"],
                               rtol=1e-6, atol=1e-9)


def test_logging_needs_an_active_run(tracking: str, demand_fit: DemandFit,
                                     tiny_data: ScorerData) -> None:
    with pytest.raises(RuntimeError, match="active MLflow run"):
        registry.log_scorer(demand_fit.scorer.net, tiny_data.spec, {}, {})


def test_a_network_is_rebuilt_only_from_known_classes(demand_fit: DemandFit) -> None:
    net = demand_fit.scorer.net
    again = rebuild("DemandNet", net.architecture, net.state_dict())
    for name, tensor in again.state_dict().items():
        assert torch.equal(tensor, net.state_dict()[name])
    with pytest.raises(ValueError, match="unknown network 'os.system'"):
        rebuild("os.system", {}, {})
