"""MLflow round trip on a throwaway SQLite store: log, register, load by version, same scores."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import mlflow
import numpy as np
import pytest
import torch
from mlflow.entities import RunStatus
from mlflow.tracking import MlflowClient

from deeprule.models import registry
from deeprule.models.dataset import ScorerData
from deeprule.models.demand import DemandFit
from deeprule.models.nets import rebuild
from deeprule.models.uplift import UpliftFit


@pytest.fixture()
def tracking(tmp_path: Path) -> Iterator[MlflowClient]:
    """A client on a throwaway store; MLflow's process-global URI must stay untouched."""
    before = mlflow.get_tracking_uri()
    client = registry.tracking_client(f"sqlite:///{tmp_path / 'mlflow.db'}")
    client.create_experiment("test", (tmp_path / "artifacts").as_uri())
    yield client
    assert mlflow.get_tracking_uri() == before


@contextmanager
def _run(client: MlflowClient) -> Iterator[registry.TrackedRun]:
    experiment = client.get_experiment_by_name("test")
    run = client.create_run(experiment.experiment_id)
    yield registry.TrackedRun(client, run.info.run_id)
    client.set_terminated(run.info.run_id)


def test_demand_and_uplift_roundtrip_by_registered_version(
        tracking: MlflowClient, demand_fit: DemandFit, uplift_fit: UpliftFit,
        tiny_data: ScorerData) -> None:
    with _run(tracking) as run:
        sink = registry.mlflow_sink(run)
        sink({"val_wape": 0.5}, 0)
        sink({"val_wape": 0.4}, 1)
        demand_ref = registry.log_scorer(run, demand_fit.scorer.net, tiny_data.spec,
                                         {"beta": 0.3, "grid": [1, 2]}, {"test_wape": 0.3},
                                         register_as=registry.DEMAND_MODEL)
    with _run(tracking) as uplift_run:
        uplift_ref = registry.log_scorer(uplift_run, uplift_fit.scorer.net, tiny_data.spec,
                                         uplift_fit.config.params(), {},
                                         register_as=registry.UPLIFT_MODEL)
    assert demand_ref.run_id == run.run_id and demand_ref.version == "1"
    client = tracking
    assert [m.value for m in client.get_metric_history(run.run_id, "val_wape")] == [0.5, 0.4]
    logged = client.get_run(run.run_id)
    assert logged.data.params["beta"] == "0.3"
    artifacts = {a.path for a in client.list_artifacts(run.run_id)}
    assert {registry.SPEC_FILE, "feature_schema.json", "zscore.json"} <= artifacts
    stored = {a.path for a in client.list_artifacts(run.run_id, registry.MODEL_DIR)}
    assert stored == {f"{registry.MODEL_DIR}/{registry.WEIGHTS_FILE}",
                      f"{registry.MODEL_DIR}/{registry.ARCHITECTURE_FILE}"}  # no pickle
    alias = client.get_model_version_by_alias(registry.DEMAND_MODEL, registry.CHAMPION)
    assert str(alias.version) == "1"

    demand = registry.load_demand(client, registry.ModelRef("", registry.DEMAND_MODEL, "1"))
    np.testing.assert_allclose(demand.predict(tiny_data.test),
                               demand_fit.scorer.predict(tiny_data.test), rtol=1e-6)
    assert demand.spec == tiny_data.spec
    uplift = registry.load_uplift(client, registry.ModelRef("", registry.UPLIFT_MODEL,
                                                            uplift_ref.version))
    moved = tiny_data.test.column("unit_price") * 1.05
    np.testing.assert_allclose(uplift.effects(tiny_data.test, moved)["delta_units"],
                               uplift_fit.scorer.effects(tiny_data.test, moved)["delta_units"],
                               rtol=1e-6, atol=1e-9)


def test_logging_needs_an_active_run(tracking: MlflowClient, demand_fit: DemandFit,
                                     tiny_data: ScorerData) -> None:
    with _run(tracking) as finished:
        pass
    assert tracking.get_run(finished.run_id).info.status == RunStatus.to_string(
        RunStatus.FINISHED)
    with pytest.raises(RuntimeError, match="active MLflow run"):
        registry.log_scorer(finished, demand_fit.scorer.net, tiny_data.spec, {}, {})


def test_a_network_is_rebuilt_only_from_known_classes(demand_fit: DemandFit) -> None:
    net = demand_fit.scorer.net
    again = rebuild("DemandNet", net.architecture, net.state_dict())
    for name, tensor in again.state_dict().items():
        assert torch.equal(tensor, net.state_dict()[name])
    with pytest.raises(ValueError, match="unknown network 'os.system'"):
        rebuild("os.system", {}, {})
