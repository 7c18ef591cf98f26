"""`python -m pipelines.compare`: the full-setting comparison, its own long run.

    python -m pipelines.compare --preset demo --seeds 10 --llm-seeds 3 --budgets 50,100,300
    python -m pipelines.compare --preset demo --seeds 2 --budgets 10 --documents off
    python -m pipelines.compare --preset demo --seeds 2 --budgets 10 --no-llm --no-calibration
    python -m pipelines.compare --preset demo --seeds 10 --first-seed 10 --no-llm
    python -m pipelines.compare --preset demo --report-only

k seeds (world seed and method seed both vary) of every method of
`deeprule.evaluate.compare`, with a progress bar and its ETA. Results go to the
warehouse (`full_comparison`, `full_comparison_convergence`, `full_comparison_runs`
with the wall time), where the `method_comparison` asset shows them (mean ± sd) on its
next materialization. Each seed is stored as it finishes, so a run stopped after hours
keeps the seeds it finished; `--report-only` prints what is stored and runs nothing.
A rerun replaces the rows of the same preset, documents setting and seeds (`--first-seed`
adds later seeds beside the stored ones); the LLM's
answers come from the response cache (docs/llm.md), so rerunning costs no LLM call.
Each search checkpoints every iteration (`--checkpoints`): a killed comparison, run
again, resumes its searches where they stopped. See docs/baselines.md.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
import uuid
from dataclasses import asdict, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import NamedTuple

import duckdb
import polars as pl
from tqdm import tqdm

from deeprule.evaluate.compare import (
    COMPARISON_CONVERGENCE,
    COMPARISON_ROWS,
    COMPARISON_RUNS,
    DOCUMENTS,
    CompareSettings,
    LLMs,
    component_losses,
    convergence_frame,
    deployment_check,
    headline,
    rows_frame,
    run_seed,
    search_runs,
    searcher_table,
    summary_display,
)
from deeprule.io.warehouse import add_new_columns, table_exists
from deeprule.llm import LLMClient
from deeprule.llm.factory import OPENAI, LLMSettings, make_backend, make_client
from deeprule.llm.models import local_model
from deeprule.search.proposal import RULE_FORMS
from deeprule.search.searchers import SEARCHERS
from resources.llm import LLMResource
from resources.paths import data_dir, duckdb_path

ROWS, CONVERGENCE, RUNS = COMPARISON_ROWS, COMPARISON_CONVERGENCE, COMPARISON_RUNS
SEARCH_KEY = "{} N={} ({})"
"""One search of a run (searcher, budget, backend), as polars and DuckDB both format it."""


class Command(NamedTuple):
    settings: CompareSettings
    llms: LLMs | None
    """The LLM searchers' backends; None: they do not run."""
    database: str
    report_only: bool = False
    """Print what `database` holds for the preset; run nothing."""


def parse(argv: list[str] | None = None) -> Command:
    """The command line as settings, LLM backends, warehouse path and what to do."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = CompareSettings()
    parser.add_argument("--preset", default=default.preset)
    parser.add_argument("--seeds", type=int, default=default.seeds)
    parser.add_argument("--first-seed", type=int, default=default.first_seed,
                        help="the run's first seed: --first-seed 10 --seeds 10 adds seeds "
                        "10-19 to a database that holds seeds 0-9")
    parser.add_argument("--llm-seeds", type=int, default=default.llm_seeds,
                        help="the run's first this many seeds also run the LLM searchers")
    parser.add_argument("--budgets", default=",".join(map(str, default.budgets)),
                        help="comma-separated N, e.g. 50,100,300")
    parser.add_argument("--searchers", default="",
                        help=f"comma-separated, default every one: {', '.join(SEARCHERS)}")
    parser.add_argument("--documents", choices=DOCUMENTS, default=default.documents)
    parser.add_argument("--no-llm", action="store_true", help="skip the LLM searchers")
    parser.add_argument("--rule-form", choices=RULE_FORMS, default=default.rule_form,
                        help="how the LLM writes rules: JSON trees or def stock(row) text")
    parser.add_argument("--rule-models", default="",
                        help="comma-separated LLMs for the LLM searchers, each its own run "
                        "(Table 2's columns), e.g. qwen-coder-1.5b,gemma-3-270m (default: "
                        "the configured rule model(s), DEEPRULE_LLM_RULE_MODEL)")
    parser.add_argument("--no-calibration", action="store_true",
                        help="plans read the demand model's units uncalibrated (the ablation)")
    parser.add_argument("--database", default="", help="DuckDB file (default: the warehouse)")
    parser.add_argument("--checkpoints", default=str(data_dir() / "checkpoints" / "compare"),
                        help="folder of the searches' checkpoints: a killed comparison run "
                        "again resumes its searches ('' = none)")
    parser.add_argument("--report-only", action="store_true",
                        help="print the tables stored for --preset; run nothing")
    args = parser.parse_args(argv)
    settings = replace(default, preset=args.preset, seeds=args.seeds,
                       first_seed=args.first_seed, llm_seeds=args.llm_seeds,
                       budgets=tuple(int(b) for b in args.budgets.split(",") if b),
                       searchers=tuple(s for s in args.searchers.split(",") if s),
                       documents=args.documents, checkpoints=args.checkpoints,
                       rule_form=args.rule_form)
    if args.no_calibration:
        settings = replace(settings, plan=default.plan.calibrated(False))
    settings.chosen_searchers()
    llms = None if args.no_llm or args.report_only else rule_llms(
        LLMResource.from_env().settings(), args.rule_models)
    return Command(settings, llms, args.database or duckdb_path(), args.report_only)


def rule_llms(settings: LLMSettings, models: str = "") -> LLMs:
    """A fresh-client factory per rule-proposal model (`models`, comma-separated; default
    the configured ones): the comparison runs each LLM searcher once per model, so several
    models make Table 2's columns instead of sharing one search as `rule_search` does."""
    if models:
        settings = replace(settings, models=replace(settings.models, rule_proposal=models))
    names = settings.models_for("rule_proposal")
    for name in names:
        if name != OPENAI:
            local_model(name)  # an unknown name fails now, not hours into the run
    return {name: partial(_rule_client, settings, name) for name in names}


def _rule_client(settings: LLMSettings, name: str) -> LLMClient:
    return make_client(settings, "rule_proposal", make_backend(settings, "rule_proposal", name))


def run(settings: CompareSettings, llms: LLMs | None, database: str,
        echo=tqdm.write) -> tuple[pl.DataFrame, pl.DataFrame, float]:
    """Every seed, each stored as it finishes (a stopped run keeps the seeds it finished);
    (rows, convergence, wall seconds)."""
    run_id = uuid.uuid4().hex[:12]
    started = time.perf_counter()
    weights = step_weights(settings, llms)
    rows, conv = [], []
    with tqdm(total=sum(weights), unit="step", desc=f"compare {settings.preset}") as bar:
        done = iter(itertools.accumulate(weights))

        def progress(message: str) -> None:
            """A finished step moves the bar to its end; an LLM iteration moves it by one."""
            if message.startswith("seed "):
                bar.update(next(done) - bar.n)
            elif message.startswith("iteration "):
                bar.update(1)
            bar.set_postfix_str(message[:60])

        for seed in settings.seed_range():
            result = run_seed(settings, seed, run_id, llms, progress)
            store(database, settings, run_id, rows_frame(result.rows),
                  convergence_frame(result.convergence), time.perf_counter() - started, [seed])
            rows += result.rows
            conv += result.convergence
    seconds = time.perf_counter() - started
    frame, curves = rows_frame(rows), convergence_frame(conv)
    echo(f"wall time {seconds:.0f}s; stored in {database} ({ROWS}, run {run_id})")
    return frame, curves, seconds


def step_weights(settings: CompareSettings, llms: LLMs | None) -> list[int]:
    """The bar's steps in the order `run_seed` reports them: the world and model, each search
    (an LLM search weighs its N iterations, the slow part), the baselines with the oracle."""
    weights = []
    for seed in settings.seed_range():
        searches = [budget + 1 if llm is not None else 1
                    for _, budget, llm in search_runs(settings, seed, llms)]
        weights += [1, *searches, 1]
    return weights


def store(database: str, settings: CompareSettings, run_id: str, rows: pl.DataFrame,
          curves: pl.DataFrame, seconds: float, seeds: list[int] | None = None) -> None:
    """Replace the rows of the same preset, documents setting and `seeds` (default: all the
    run's), but of searches only those this run made (searcher x N x backend): a run of one
    searcher, without the LLM, with another model or rule form keeps the other searches'
    rows. Record the run: its wall time so far and how many seeds it has finished."""
    seeds = list(settings.seed_range()) if seeds is None else seeds
    searched = (rows.filter(pl.col("kind") == "searcher")
                .select(pl.format(SEARCH_KEY, "searcher", "budget", "backend")).unique()
                .to_series().to_list())
    run = pl.DataFrame({"run_id": [run_id], "preset": [settings.preset],
                        "documents": [settings.documents], "seeds": [settings.seeds],
                        "seeds_finished": [max(seeds, default=settings.first_seed - 1) + 1
                                           - settings.first_seed],
                        "finished": [datetime.now(UTC).replace(tzinfo=None)],
                        "wall_seconds": [seconds],
                        "settings": [json.dumps(asdict(settings), default=str)]})
    with duckdb.connect(database) as conn:
        conn.execute("BEGIN TRANSACTION")
        for name, frame in ((ROWS, rows), (CONVERGENCE, curves), (RUNS, run)):
            conn.register("frame", frame)
            if not table_exists(conn, name):
                conn.execute(f"CREATE TABLE {name} AS SELECT * FROM frame LIMIT 0")
            add_new_columns(conn, name)
            if name == RUNS:  # a run stored seed by seed keeps one row, its latest
                conn.execute(f"DELETE FROM {name} WHERE run_id = ?", [run_id])
            else:
                conn.execute(f"DELETE FROM {name} WHERE preset = ? AND documents = ? "
                             "AND list_contains(?, seed) AND (searcher IS NULL OR "
                             "list_contains(?, format(?, searcher, budget, backend)))",
                             [settings.preset, settings.documents, seeds, searched,
                              SEARCH_KEY])
            conn.execute(f"INSERT INTO {name} BY NAME SELECT * FROM frame")
        conn.execute("COMMIT")


def report(rows: pl.DataFrame, echo=print) -> None:
    """Table 1 (mean ± sd), the headline, Table 2's shape, the component ablation and the
    deployment check on the terminal."""
    shown = summary_display(rows)
    with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_width_chars=260, fmt_str_lengths=60,
                   tbl_hide_dataframe_shape=True):
        echo(shown)
        echo(headline(rows))
        echo(searcher_table(rows))
        echo(component_losses(rows))
        echo(deployment_check(rows))


def main(argv: list[str] | None = None) -> int:
    command = parse(argv)
    settings, database = command.settings, command.database
    if not command.report_only:
        run(settings, command.llms, database)
    stored = stored_rows(database, settings.preset)
    if stored.is_empty():
        print(f"nothing stored for {settings.preset!r} in {database}: run "
              f"python -m pipelines.compare --preset {settings.preset}")
        return 1
    report(stored)
    return 0


def stored_rows(database: str, preset: str) -> pl.DataFrame:
    """Every row the warehouse holds for `preset` (every run, seed and documents setting)."""
    if not Path(database).exists():
        return rows_frame([])
    with duckdb.connect(database, read_only=True) as conn:
        if not table_exists(conn, ROWS):
            return rows_frame([])
        return conn.execute(f"SELECT * FROM {ROWS} WHERE preset = ?", [preset]).pl()


if __name__ == "__main__":
    raise SystemExit(main())
