"""The documented Postgres instance config (deploy/dagster-postgres.yaml) stays valid:
rendered with its environment variables, it passes Dagster's instance schema, names a
storage Dagster can import, and the code location loads under it (no server needed)."""

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PG_ENV = {"DAGSTER_PG_HOST": "db.internal", "DAGSTER_PG_PORT": "5432",
          "DAGSTER_PG_DB": "dagster", "DAGSTER_PG_USERNAME": "deeprule",
          "DAGSTER_PG_PASSWORD": "not-a-real-password"}


@pytest.fixture()
def postgres_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copy(ROOT / "deploy" / "dagster-postgres.yaml", tmp_path / "dagster.yaml")
    for name, value in PG_ENV.items():
        monkeypatch.setenv(name, value)
    return tmp_path


def test_postgres_instance_config_is_valid_and_renders(postgres_home: Path) -> None:
    pytest.importorskip("dagster_postgres")
    from dagster._config import process_config
    from dagster._core.instance.config import dagster_instance_config
    from dagster_postgres.storage import DagsterPostgresStorage
    from dagster_postgres.utils import pg_url_from_config

    config, _ = dagster_instance_config(str(postgres_home))
    storage = process_config(DagsterPostgresStorage.config_type(), config["storage"]["postgres"])
    assert storage.success, storage.errors
    url = pg_url_from_config(storage.value)
    assert url.startswith("postgresql://deeprule:") and "db.internal:5432/dagster" in url
    assert config["concurrency"]["pools"]["default_limit"] == 1


def test_definitions_load_under_the_postgres_instance_config(postgres_home: Path) -> None:
    """The instance reference resolves to Postgres storage (connecting only on first use),
    and the code location's jobs, schedule and sensor load under it."""
    pytest.importorskip("dagster_postgres")
    from dagster._core.instance.ref import InstanceRef

    ref = InstanceRef.from_dir(str(postgres_home))
    assert ref.storage_data.class_name == "DagsterPostgresStorage"
    assert ref.run_coordinator_data.class_name == "QueuedRunCoordinator"
    from pipelines.definitions import defs

    jobs = [job for job in defs.resolve_all_job_defs() if not job.name.startswith("__")]
    assert jobs and all(job.executor_def.name == "multi_or_in_process_executor" for job in jobs)
    assert defs.resolve_schedule_def("daily_rebuild") and defs.resolve_sensor_def("data_inbox")
