"""`make ui` smoke test: `dagster dev` serves the code location and lists our assets."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _wait_for_server(base: str, process: subprocess.Popen, deadline: float) -> None:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"dagster dev exited with {process.returncode}")
        try:
            _get(f"{base}/server_info")
            return
        except OSError:
            time.sleep(1)
    raise AssertionError("dagster dev did not answer /server_info within the time limit")


@pytest.mark.slow
def test_dagster_dev_serves_asset_graph(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path),
           "DEEPRULE_DUCKDB_PATH": str(tmp_path / "ui.duckdb")}
    dagster = Path(sys.executable).parent / "dagster"
    process = subprocess.Popen(
        [str(dagster), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for_server(base, process, time.monotonic() + 180)
        query = "{ assetNodes { assetKey { path } groupName } }"
        answer = _get(f"{base}/graphql", {"query": query})
        groups = {
            node["assetKey"]["path"][-1]: node["groupName"]
            for node in answer["data"]["assetNodes"]
        }
        assert groups["shipments"] == "raw"
        assert groups["true_document_facts"] == "simulator"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
