"""Every searcher on `demo` with the embedded LLM, side by side: best fitness by iteration,
and tokens and seconds per iteration, at N = 50 and 100.

Runs the full-setting comparison (`pipelines.compare`: one seed, every searcher, the
configured rule model(s), each its own column) and prints its convergence table: the
best Φ so far at chosen iterations per searcher x N x backend, then what an iteration
costs (LLM calls, prompt and completion tokens, seconds; an LLM answer from the cache
costs no seconds). Long on 2 cores (an embedded-LLM iteration ~10-40 s, so the three
LLM searchers at N = 50 + 100 take hours): results, LLM answers and every search's
checkpoints persist, so a killed or repeated run continues where it stopped and costs
no LLM call for what it already asked.

    python benchmarks/bench_search_convergence.py [--budgets 50,100] [--preset demo]
        [--searchers llm_reflection,rl] [--rule-models qwen-coder-1.5b]
        [--database data/bench/search_convergence.duckdb] [--report-only]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import duckdb
import polars as pl

from deeprule.evaluate.compare import COMPARISON_CONVERGENCE, CONVERGENCE_SCHEMA, NO_BACKEND
from pipelines import compare
from resources.paths import data_dir

MARKS = (0, 1, 5, 10, 25, 50, 100, 300)
"""Iterations the side-by-side table shows (those a budget reaches)."""


def by_iteration(curves: pl.DataFrame) -> pl.DataFrame:
    """Best Φ so far at each mark a run reaches, and at its last iteration (rows), per
    searcher x N (x backend, when the LLM searchers ran on several) (columns)."""
    several = curves.filter(pl.col("backend") != NO_BACKEND)["backend"].n_unique() > 1
    rows = []
    for (searcher, budget, backend), run in curves.group_by(
            "searcher", "budget", "backend", maintain_order=True):
        label = f"{searcher} N={budget}" + (
            f" ({backend[:20]})" if several and backend != NO_BACKEND else "")
        end = int(run["iteration"].max())
        for mark in sorted({m for m in MARKS if m <= end} | {end}):
            rows.append({"run": label, "iteration": mark,
                         "best Φ": run.filter(pl.col("iteration") <= mark)["best_fitness"].max()})
    return pl.DataFrame(rows).pivot("run", index="iteration", values="best Φ").sort("iteration")


def iteration_cost(curves: pl.DataFrame) -> pl.DataFrame:
    """Per searcher x N x backend: mean LLM calls, tokens and seconds per iteration after the
    start (iteration 0 is the expert rule), the statuses, and where it ended."""
    searched = curves.filter(pl.col("iteration") > 0)
    return (searched.group_by("searcher", "budget", "backend", maintain_order=True).agg(
        pl.len().alias("iterations"),
        pl.col("llm_calls").mean().alias("llm calls / it"),
        pl.col("prompt_tokens").mean().alias("prompt tokens / it"),
        pl.col("completion_tokens").mean().alias("completion tokens / it"),
        pl.col("seconds").mean().alias("seconds / it"),
        pl.col("status").value_counts(sort=True).struct.field("status").head(3)
        .str.join(", ").alias("most common statuses"),
        pl.col("best_fitness").first().alias("start Φ"),
        pl.col("best_fitness").last().alias("best Φ"),
        pl.col("realized_profit").last().alias("best rule's true profit")))


def stored_curves(database: str, preset: str) -> pl.DataFrame:
    """The preset's convergence rows; columns an older run did not record are null."""
    with duckdb.connect(database, read_only=True) as conn:
        stored = conn.execute(f"SELECT * FROM {COMPARISON_CONVERGENCE} WHERE preset = ? "
                              "ORDER BY searcher, budget, backend, iteration", [preset]).pl()
    return stored.with_columns(pl.lit(None, dtype).alias(name)
                               for name, dtype in CONVERGENCE_SCHEMA.items()
                               if name not in stored.columns)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--budgets", default="50,100")
    parser.add_argument("--rule-models", default="")
    parser.add_argument("--searchers", default="",
                        help="comma-separated (default every one); each run keeps the others' "
                        "stored results, so searchers can be run one at a time")
    parser.add_argument("--database", default=str(data_dir() / "bench" /
                                                  "search_convergence.duckdb"))
    parser.add_argument("--report-only", action="store_true",
                        help="print what the database holds; run nothing")
    args = parser.parse_args(argv)
    Path(args.database).parent.mkdir(parents=True, exist_ok=True)
    if not args.report_only:
        command = compare.parse([
            "--preset", args.preset, "--seeds", "1", "--llm-seeds", "1",
            "--budgets", args.budgets, "--rule-models", args.rule_models,
            "--searchers", args.searchers,
            "--database", args.database,
            "--checkpoints", str(data_dir() / "checkpoints" / "bench_convergence")])
        compare.run(command.settings, command.llms, command.database, echo=print)
    curves = stored_curves(args.database, args.preset)
    with pl.Config(tbl_rows=-1, tbl_cols=-1, float_precision=1, tbl_width_chars=250,
                   fmt_str_lengths=40, tbl_hide_dataframe_shape=True):
        print(f"best Φ so far by iteration ({args.preset}, seed 0)")
        print(by_iteration(curves))
        print("cost per iteration (an answer from the LLM cache costs 0 s)")
        print(iteration_cost(curves))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
