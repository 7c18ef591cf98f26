"""The comparison command killed with SIGKILL during a search resumes it from its last
finished iteration: a real `python -m pipelines.compare`-style process on `tiny`, its LLM
scripted (each proposal announced on stdout, then slow enough to be killed in)."""

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import polars as pl
import pytest

from deeprule.evaluate.compare import COMPARISON_CONVERGENCE, COMPARISON_ROWS

ROOT = Path(__file__).resolve().parents[2]
KILLABLE_COMPARISON = textwrap.dedent("""
    import sys, time
    from deeprule.llm import LLMClient
    from deeprule.llm.testing import ScriptedBackend
    from pipelines import compare
    from tests.helpers.rules import markup_rule

    def answer(prompt, schema):
        print("PROPOSAL", flush=True)
        time.sleep(0.5)
        # draw k: a lower markup on the usual price, each better than the one before
        return markup_rule(1.08 - 0.02 * backend.attempts[-1], base="usual_price")

    backend = ScriptedBackend(responder=answer)
    compare.rule_llms = lambda settings, models="": {"fake": lambda: LLMClient(backend, None)}
    compare.main(sys.argv[1:])
    print("CALLS", backend.calls, "ATTEMPTS", backend.attempts, flush=True)
""")
SEARCHES = "direct_llm,evolution"
"""The checkpointed LLM ablation (one proposal per iteration) and a searcher without LLM."""
RESULT_COLUMNS = ["method", "kind", "optimizer", "budget", "backend", "fitness", "profit",
                  "units", "violations", "iterations"]


def _comparison(folder: Path, run: str) -> subprocess.Popen:
    """The comparison on tiny (one seed, N = 4) storing into `run`'s database and
    checkpoints."""
    args = ["--preset", "tiny", "--seeds", "1", "--llm-seeds", "1", "--budgets", "4",
            "--searchers", SEARCHES, "--database", str(folder / f"{run}.duckdb"),
            "--checkpoints", str(folder / f"{run}-checkpoints")]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DEEPRULE_DATA_HOME": str(folder / "data")}
    return subprocess.Popen([sys.executable, "-c", KILLABLE_COMPARISON, *args], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def _finished(folder: Path, run: str) -> str:
    process = _comparison(folder, run)
    output = process.communicate(timeout=600)[0]
    assert process.returncode == 0, output[-3000:]
    return output


def _stored(folder: Path, run: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """What the run stored: the searches' plan rows and convergence curves (no run id, no
    seconds: those differ between any two runs)."""
    with duckdb.connect(str(folder / f"{run}.duckdb"), read_only=True) as conn:
        rows = conn.execute(f"SELECT * FROM {COMPARISON_ROWS} WHERE kind = 'searcher'").pl()
        curves = conn.execute(f"SELECT * FROM {COMPARISON_CONVERGENCE}").pl()
    return (rows.select(RESULT_COLUMNS).sort("method"),
            curves.drop("run_id", "seconds").sort("searcher", "iteration"))


@pytest.mark.slow
def test_a_comparison_killed_during_a_search_resumes_it_and_ends_as_an_uninterrupted_run(
        tmp_path: Path) -> None:
    whole = _finished(tmp_path, "whole")
    assert "CALLS 4 ATTEMPTS [0, 1, 2, 3]" in whole, whole[-3000:]

    victim = _comparison(tmp_path, "killed")
    proposals = 0
    for line in victim.stdout:  # kill it while the third proposal is being written
        proposals += line.count("PROPOSAL")  # the progress bar may share the line
        if proposals == 3:
            victim.send_signal(signal.SIGKILL)
            break
    rest = victim.communicate(timeout=60)[0]
    assert victim.returncode == -signal.SIGKILL, rest[-3000:]
    saved = json.loads((tmp_path / "killed-checkpoints"
                        / "tiny-stated-seed0-direct_llm-N4-fake.json").read_text())
    assert saved["state"]["asked"] == 2  # proposals 1 and 2 finished and saved, not 3

    resumed = _finished(tmp_path, "killed")
    assert "CALLS 2 ATTEMPTS [2, 3]" in resumed, resumed[-3000:]  # only draws 2 and 3
    rows, curves = _stored(tmp_path, "killed")
    whole_rows, whole_curves = _stored(tmp_path, "whole")
    assert rows.equals(whole_rows) and curves.equals(whole_curves)
    llm = curves.filter(pl.col("searcher") == "direct_llm")
    assert llm["iteration"].to_list() == [0, 1, 2, 3, 4]
    assert llm["best_fitness"][4] > llm["best_fitness"][2]  # the resumed draws mattered

    again = _finished(tmp_path, "killed")
    assert "CALLS 0 ATTEMPTS []" in again, again[-3000:]  # unchanged: nothing asked
    assert _stored(tmp_path, "killed")[0].equals(whole_rows)
