"""`make ui` in earnest: `dagster dev` on a small materialized instance, read through GraphQL
and seen in a real browser (Debian's chromium driven by Playwright; no browser download)."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from playwright.sync_api import Page, expect, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.helpers.instance import ROOT, in_process_config, tiny_instance_env

CHROMIUM = Path("/usr/bin/chromium")
MATERIALIZED = ["customers", "stores", "store_affiliation", "customer_demographics"]
"""Raw entities and one derived asset with a metadata table and a PNG plot (`map`): enough
for the pages below, in ~20 s (no LLM, no training)."""


@dataclass(frozen=True)
class ServedInstance:
    base: str
    """http://127.0.0.1:<port>"""
    warehouse: Path


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


def _materialize(env: dict[str, str], folder: Path) -> None:
    dagster = Path(sys.executable).parent / "dagster"
    done = subprocess.run(
        [str(dagster), "asset", "materialize", "-m", "pipelines.definitions",
         "--select", ",".join(MATERIALIZED), "-c", str(in_process_config(folder))],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedInstance]:
    """`dagster dev` on a free port over a tiny-world instance with MATERIALIZED done."""
    folder = tmp_path_factory.mktemp("ui")
    env = tiny_instance_env(folder)
    _materialize(env, folder)
    port = _free_port()
    dagster = Path(sys.executable).parent / "dagster"
    process = subprocess.Popen(
        [str(dagster), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for_server(base, process, time.monotonic() + 180)
        yield ServedInstance(base, Path(env["DEEPRULE_DUCKDB_PATH"]))
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


@pytest.mark.slow
def test_dagster_dev_serves_asset_graph(served: ServedInstance) -> None:
    query = "{ assetNodes { assetKey { path } groupName } }"
    answer = _get(f"{served.base}/graphql", {"query": query})
    groups = {
        node["assetKey"]["path"][-1]: node["groupName"]
        for node in answer["data"]["assetNodes"]
    }
    assert groups["shipments"] == "raw"
    assert groups["true_document_facts"] == "simulator"


def _skip_community_modal(page: Page) -> None:
    """A fresh instance greets with "Join the Dagster community"; other versions may not."""
    skip = page.get_by_role("button", name="Skip")
    try:
        skip.wait_for(state="visible", timeout=10_000)
    except PlaywrightTimeout:
        return
    skip.click()
    skip.wait_for(state="hidden")


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} absent (apt-get install "
                    "chromium); CI installs it in .ci/run")
def test_browser_shows_lineage_metadata_and_plot(served: ServedInstance, tmp_path: Path) -> None:
    with duckdb.connect(str(served.warehouse), read_only=True) as conn:
        rows, = conn.execute("SELECT count(*) FROM store_affiliation").fetchone()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.goto(f"{served.base}/assets/store_affiliation"
                  "?view=lineage&lineageScope=upstream&lineageDepth=1")
        _skip_community_modal(page)
        for name in ["customers", "stores", "customer_priors", "store_affiliation",
                     "raw", "priors", "features"]:
            expect(page.get_by_text(name, exact=True).first).to_be_visible(timeout=30_000)
        # each node's live status: the three materialized here, the LLM priors never
        expect(page.get_by_text("Materialized", exact=True)).to_have_count(3, timeout=30_000)
        expect(page.get_by_text("Never materialized", exact=True)).to_be_visible()
        page.screenshot(path=tmp_path / "lineage.png")

        page.goto(f"{served.base}/assets/store_affiliation?view=events")
        expect(page.get_by_text("Materialized in run")).to_be_visible(timeout=30_000)
        metadata = page.locator("table", has=page.get_by_text("dagster/row_count", exact=True))
        expect(metadata).to_be_visible()
        row_count = metadata.locator("tr", has=page.get_by_text("dagster/row_count", exact=True))
        expect(row_count.locator("td").nth(1)).to_have_text(str(rows))
        for key in ["preview", "alpha", "n_stores", "map"]:
            expect(metadata.get_by_text(key, exact=True)).to_be_visible()
        page.screenshot(path=tmp_path / "materialization.png")

        metadata.locator("tr", has=page.get_by_text("map", exact=True)).get_by_text(
            "Show Markdown").click()
        plot = page.locator("img[src^='data:image/png;base64,']")
        expect(plot).to_be_visible()
        width, height = plot.evaluate("img => [img.naturalWidth, img.naturalHeight]")
        assert width > 200 and height > 200  # a decoded image, not a broken-image icon
        expect(page.get_by_text("Stores, customers and radii")).to_be_visible()
        page.screenshot(path=tmp_path / "plot.png")
        browser.close()
    assert all((tmp_path / f"{n}.png").stat().st_size > 10_000
               for n in ["lineage", "materialization", "plot"])
