"""The full-setting comparison (the paper's Tables 1 and 2) over k seeds. EVALUATION ONLY.

For each seed the world is built with that seed (world seed = `base_seed + i`, every
method's seed = i), the demand model is trained on it as `run_experiment` trains it
(raw tables, plus the priors a perfect reading of the documents gives unless
`documents="off"`), and every method plans the first held-out month:

- the logged policy, the four baselines (`deeprule.evaluate.baselines`), the expert rule
  and each registered searcher (`deeprule.search.searchers.SEARCHERS`) at each budget N,
  each rule through both optimizers (the MILP and the Appendix E heuristic), and the
  constrained oracle, all realized by the one rule of docs/plans.md;
- a diagnostic that reads the truth, labelled so: the deployed rule's options (the rule
  whose MILP plan the model predicts to earn the most) and the expert rule's through the
  MILP fed the true demand instead of the model's (`TrueDemand`), which says how much the
  demand model costs the optimizer.

One row per seed x method x budget x backend (`ROW_SCHEMA`); a second table holds every
search's convergence (best fitness by iteration and the profit its best rule so far
realizes on the searched rows under the true demand). Only this module and the
`evaluation` assets read the truth.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import NamedTuple

import numpy as np
import polars as pl

from deeprule.evaluate.baselines import (
    BaselineSettings,
    baseline_month,
    baseline_outcomes,
)
from deeprule.evaluate.experiment import run_experiment, world_tables
from deeprule.evaluate.plans import rule_profit, true_units
from deeprule.evaluate.realized import (
    constrained_oracle,
    logged_lines,
    outcome,
    plan_outcome,
    realize,
)
from deeprule.llm import LLMClient
from deeprule.models.calibration import validation_calibration
from deeprule.models.demand import DemandConfig
from deeprule.models.frames import SourceTables
from deeprule.optimize.accounts import account_history
from deeprule.optimize.candidates import PlanCandidates, plan_candidates, search_candidates
from deeprule.optimize.deploy import deployed, first_by
from deeprule.optimize.plans import (
    METHODS,
    Codes,
    PlanConfig,
    RuleRef,
    lock_columns,
    make_plans,
    priors_locks,
)
from deeprule.rules import Program, decide, parse_program
from deeprule.search.checkpoint import Checkpoint, candidates_key, run_key
from deeprule.search.objective import RULE_FEATURES, Candidates, FitnessConfig
from deeprule.search.reflect import EXPERT_RULE, SearchConfig, SearchResult, fitted
from deeprule.search.searchers import SEARCHERS, SearchRequest
from deeprule.synth import World, build_world, resolve_spec

DOCUMENTS = ("stated", "off")
"""Priors from what the documents truly state (a perfect reading), or none at all."""
NO_BACKEND = "none"
"""The backend column of a method that asks no LLM."""
EXPERT = "expert rule"
ORACLE = "constrained oracle"
LOGGED = "logged policy"
TRUE_DEMAND = "MILP on the true demand (diagnostic)"
"""Suffix of the diagnostic rows: a plan whose optimizer read the truth."""

ROW_SCHEMA = {
    "run_id": pl.String, "preset": pl.String, "documents": pl.String, "seed": pl.Int64,
    "world_seed": pl.Int64, "month": pl.Date, "method": pl.String, "kind": pl.String,
    "searcher": pl.String, "optimizer": pl.String, "budget": pl.Int64, "backend": pl.String,
    "customers_planned": pl.Int64, "customers_without_plan": pl.Int64, "units": pl.Float64,
    "revenue": pl.Float64, "profit": pl.Float64, "predicted_profit": pl.Float64,
    "violations": pl.Int64, "true_locks_missed": pl.Int64, "oracle_gap": pl.Float64,
    "fitness": pl.Float64, "iterations": pl.Int64, "iterations_to_threshold": pl.Int64,
    "seconds": pl.Float64,
}
"""One row per seed x method x budget x backend (the `full_comparison` table)."""
CONVERGENCE_SCHEMA = {
    "run_id": pl.String, "preset": pl.String, "documents": pl.String, "seed": pl.Int64,
    "searcher": pl.String, "budget": pl.Int64, "backend": pl.String, "iteration": pl.Int64,
    "best_fitness": pl.Float64, "realized_profit": pl.Float64, "status": pl.String,
    "fitness": pl.Float64, "llm_calls": pl.Int64, "prompt_tokens": pl.Int64,
    "completion_tokens": pl.Int64, "seconds": pl.Float64,
}
"""Per search and iteration: the best fitness so far and what its rule realizes, and the
iteration's own outcome (status, its rule's fitness) and cost (LLM calls, tokens, seconds)."""
COMPARISON_ROWS = "full_comparison"
COMPARISON_CONVERGENCE = "full_comparison_convergence"
COMPARISON_RUNS = "full_comparison_runs"
"""The warehouse tables the full-setting command writes and `method_comparison` reads."""
KINDS = ("logged", "baseline", "rule", "searcher", "oracle", "diagnostic")


@dataclass(frozen=True)
class CompareSettings:
    """What one full-setting run covers; the defaults are the paper's setting on `demo`."""

    preset: str = "demo"
    seeds: int = 10
    """k seeds for the non-LLM methods."""
    first_seed: int = 0
    """The run's first seed (the others follow it). Seed i is the same world and method seed
    in any run, so a later run adds seeds to a stored one instead of recomputing them."""
    llm_seeds: int = 3
    """The run's first this many seeds also run the LLM searchers."""
    base_seed: int = 7
    """World seed of seed 0 (the preset's own)."""
    budgets: tuple[int, ...] = (50, 100, 300)
    searchers: tuple[str, ...] = ()
    """Registered searchers to run (empty: every one in SEARCHERS)."""
    documents: str = "stated"
    """One of DOCUMENTS."""
    threshold: float = 0.9
    """A search reaches the threshold when its best fitness has covered this share of the
    way from the expert rule's fitness to the best fitness any search of its seed found
    (no threshold when no search beat the expert rule)."""
    validation_months: int = 2
    test_months: int = 2
    demand: DemandConfig = field(default_factory=DemandConfig)
    plan: PlanConfig = field(default_factory=PlanConfig)
    fitness: FitnessConfig = FitnessConfig()
    baselines: BaselineSettings = field(default_factory=BaselineSettings)
    checkpoints: str = ""
    """Folder of the searches' checkpoints ("" = none): a killed comparison run again
    resumes each search after its last finished iteration; a finished one costs nothing."""
    rule_form: str = SearchRequest.rule_form
    """How the LLM writes rules in the searchers where it writes them (SearchRequest)."""

    def chosen_searchers(self) -> list[str]:
        names = list(self.searchers or SEARCHERS)
        unknown = [n for n in names if n not in SEARCHERS]
        if unknown:
            raise ValueError(f"unknown searchers {unknown}; known: {sorted(SEARCHERS)}")
        if self.documents not in DOCUMENTS:
            raise ValueError(f"documents must be one of {DOCUMENTS}, not {self.documents!r}")
        if self.first_seed < 0:
            raise ValueError(f"first_seed must be 0 or more, not {self.first_seed}")
        return names

    def seed_range(self) -> range:
        return range(self.first_seed, self.first_seed + self.seeds)

    def tasks(self, seed: int) -> list[tuple[str, int]]:
        """(searcher, budget) pairs seed `seed` runs: LLM searchers on the first llm_seeds."""
        return [(name, budget) for name in self.chosen_searchers() for budget in self.budgets
                if seed < self.first_seed + self.llm_seeds or not SEARCHERS[name].uses_llm]


@dataclass(frozen=True)
class SeedWorld:
    """One seed's world, what the learners read, the trained model's planning inputs."""

    seed: int
    world: World
    tables: SourceTables
    month: date
    search_rows: Candidates
    plan: PlanCandidates
    codes: Codes
    history: object
    locks: tuple[np.ndarray, np.ndarray]
    seconds: float


@dataclass
class SeedResult:
    """One seed's rows and its searches' convergence."""

    rows: list[dict[str, object]] = field(default_factory=list)
    convergence: list[dict[str, object]] = field(default_factory=list)


Clients = Callable[[], LLMClient]
"""A fresh LLM client per search (its own token budget; answers cached across runs)."""
LLMs = Mapping[str, Clients]
"""The configured LLM backends by name: each LLM searcher runs once per backend (Table 2's
columns), its rows labelled with the backend's model."""


def seed_world(settings: CompareSettings, seed: int) -> SeedWorld:
    """Build seed `seed`'s world and train the demand model on it; the searchers' rows (the
    held-out months' shipments, segmented as `rule_search`'s) and the plan month's
    candidates (the first held-out month) for the optimizers, both calibrated on the
    validation months when the plan settings ask for it."""
    started = time.perf_counter()
    world = build_world(resolve_spec(settings.preset, {"seed": settings.base_seed + seed}))
    tables = world_tables(world, documents=settings.documents == "stated")
    exp = run_experiment(world, replace(settings.demand, seed=seed), [],
                         settings.validation_months, settings.test_months, tables=tables)
    scorer, month = exp.demand.scorer, min(exp.data.split.test)
    calibration = validation_calibration(tables, scorer, exp.data.split.validation,
                                         settings.plan.calibration)
    customers = world.customers()
    search_rows = search_candidates(tables, scorer, exp.data.test, calibration, customers)
    plan = plan_candidates(tables, scorer, month, customers["customer_id"], calibration)
    codes = Codes.of(plan.rows)
    expenses = pl.concat([world.expenses(m) for m in world.spec.months])
    history = account_history(tables.shipments, tables.skus, expenses, codes.customers,
                              codes.categories, month)
    locks = lock_columns(plan.rows, priors_locks(tables.customer_priors, month))
    return SeedWorld(seed, world, tables, month, search_rows, plan, codes, history, locks,
                     time.perf_counter() - started)


class TrueDemand:
    """The true expected units of candidate rows at any price, shaped like the demand
    model's price response where the optimizer reads it (`units`, `take`). DIAGNOSTIC:
    it reads the truth, so no method may use it; it measures what the model costs."""

    def __init__(self, world: World, rows: pl.DataFrame) -> None:
        self.world, self.rows = world, rows

    def units(self, price: np.ndarray) -> np.ndarray:
        return self.world.expected_units(self.rows["customer_id"], self.rows["sku_id"], price,
                                         self.rows["month"].to_numpy())

    def take(self, index: np.ndarray) -> TrueDemand:
        return TrueDemand(self.world, self.rows[index])


def true_locks_missed(world: World, lines: pl.DataFrame) -> int:
    """Customers with a plan (a line in `lines`) that leaves a contractual lock of the
    world's truth unmet (fewer units than the lock, or no line for it): what a plan that
    did not read the contract misses, which its own violation count, judged on the locks
    it knew, cannot show. Customers without a plan count in `customers_without_plan`."""
    locks = world.policy_locks().filter(pl.col("customer_id").is_in(
        lines["customer_id"].unique().implode()))
    planned = lines.group_by("customer_id", "sku_id").agg(pl.col("units").sum())
    judged = locks.join(planned, on=["customer_id", "sku_id"], how="left")
    missed = judged.filter(pl.col("units").fill_null(0.0) < pl.col("min_units") - 1e-6)
    return int(missed["customer_id"].n_unique())


def rule_rows(sw: SeedWorld, program: Program, name: str, extra: dict[str, object],
              config: PlanConfig, diagnostic: bool = False) -> Iterator[dict[str, object]]:
    """The rule's plans by each optimizer realized under the truth; with `diagnostic`, its
    MILP plan on the true demand instead."""
    decisions = decide(program, sw.plan.cand.columns)
    ref = RuleRef(name, "compare")
    if diagnostic:
        cand = replace(sw.plan.cand, response=TrueDemand(sw.world, sw.plan.rows))
        plans = make_plans(PlanCandidates(cand), decisions, sw.codes, sw.history, sw.locks,
                           ref, config, "milp")
        yield {**plan_outcome(f"{name} + {TRUE_DEMAND}", realize(sw.world, plans.lines),
                              plans.customers), **extra, "kind": "diagnostic",
               "optimizer": "milp (true demand)", "seconds": plans.seconds,
               "true_locks_missed": true_locks_missed(sw.world, plans.lines)}
        return
    for method in METHODS:
        plans = make_plans(sw.plan, decisions, sw.codes, sw.history, sw.locks, ref, config,
                           method)
        yield {**plan_outcome(f"{name} + {method}", realize(sw.world, plans.lines),
                              plans.customers), **extra, "optimizer": method,
               "seconds": plans.seconds,
               "true_locks_missed": true_locks_missed(sw.world, plans.lines)}


def run_search(sw: SeedWorld, name: str, budget: int, settings: CompareSettings,
               llm: tuple[str, Clients] | None, progress: Callable[[str], None]
               ) -> tuple[SearchResult, str, float]:
    """One registered searcher at budget N on the seed's searched rows, with `llm` (its
    backend's name and client factory) when it asks one; (result, backend, seconds)."""
    spec = SEARCHERS[name]
    client = llm[1]() if spec.uses_llm and llm is not None else None
    form = "" if settings.rule_form == SearchRequest.rule_form else settings.rule_form
    backend, label = NO_BACKEND, ""
    if client is not None:  # another rule form is another column of Table 2
        backend = client.backend.model + (f" [{form}]" if form else "")
        label = llm[0] + (f"-{form}" if form else "")
    started = time.perf_counter()
    try:
        request = SearchRequest(budget, sw.seed, settings.fitness,
                                search_checkpoint(sw, name, budget, settings, label),
                                settings.rule_form)
        result = spec.run(sw.search_rows, request, client, progress)
    finally:
        if client is not None:
            client.close()
    return result, backend, time.perf_counter() - started


def search_checkpoint(sw: SeedWorld, name: str, budget: int, settings: CompareSettings,
                      backend: str = "") -> Checkpoint | None:
    """Where one search of the comparison saves its state (one file per LLM backend), keyed
    by its rows (the searcher adds its settings and LLM)."""
    if not settings.checkpoints:
        return None
    suffix = f"-{backend}" if backend else ""
    path = (Path(settings.checkpoints) / f"{settings.preset}-{settings.documents}-seed{sw.seed}"
            f"-{name}-N{budget}{suffix}.json")
    return Checkpoint(path, run_key(settings.preset, settings.documents, sw.seed,
                                    candidates_key(sw.search_rows)))


ITERATION_COST = ("status", "fitness", "llm_calls", "prompt_tokens", "completion_tokens",
                  "seconds")
"""An iteration's own columns the convergence table keeps (a searcher's table may lack
one: null)."""


def convergence(sw: SeedWorld, result: SearchResult, key: dict[str, object]
                ) -> list[dict[str, object]]:
    """Best fitness so far by iteration, and the profit the best rule so far realizes on the
    searched rows under the true demand (prices held to [cost, list], no optimizer)."""
    truth = true_units(sw.world, sw.search_rows)
    out, best, best_profit = [], -math.inf, math.nan
    for row in result.table().iter_rows(named=True):
        if row["fitness"] is not None and row["fitness"] > best:
            best = row["fitness"]
            program = parse_program(row["rule"], RULE_FEATURES)
            best_profit = rule_profit(program, sw.search_rows, truth)
        out.append({**key, "iteration": row["number"], "best_fitness": best,
                    "realized_profit": best_profit,
                    **{name: row.get(name) for name in ITERATION_COST}})
    return out


def run_seed(settings: CompareSettings, seed: int, run_id: str, llms: LLMs | None,
             progress: Callable[[str], None] = lambda _: None) -> SeedResult:
    """Every method on seed `seed`'s plan month; `progress` hears each finished step."""
    sw = seed_world(settings, seed)
    progress(f"seed {seed}: world + demand model {sw.seconds:.0f}s")
    key = {"run_id": run_id, "preset": settings.preset, "documents": settings.documents,
           "seed": seed}
    out = SeedResult()
    expert, expert_outcome = fitted(parse_program(EXPERT_RULE, RULE_FEATURES), sw.search_rows,
                                    SearchConfig(fitness=settings.fitness))
    base = {"kind": "rule", "searcher": None, "budget": None, "backend": NO_BACKEND,
            "fitness": expert_outcome.fitness, "iterations": 0}
    expert_rows = list(rule_rows(sw, expert, EXPERT, base, settings.plan))
    out.rows += expert_rows
    candidates = [Candidate(expert, EXPERT, base, milp_prediction(expert_rows))]
    for name, budget, llm in search_runs(settings, seed, llms):
        result, backend, seconds = run_search(sw, name, budget, settings, llm, progress)
        search_key = {**key, "searcher": name, "budget": budget, "backend": backend}
        out.convergence += convergence(sw, result, search_key)
        fitness = result.best_outcome.fitness
        extra = {"kind": "searcher", "searcher": name, "budget": budget, "backend": backend,
                 "fitness": fitness, "iterations": len(result.iterations) - 1}
        label = f"{name} N={budget}"
        searched = [{**r, "seconds": r["seconds"] + seconds}
                    for r in rule_rows(sw, result.best, label, extra, settings.plan)]
        out.rows += searched
        candidates.append(Candidate(result.best, label, extra, milp_prediction(searched)))
        progress(f"seed {seed}: {name} N={budget} ({backend}) {seconds:.0f}s")
    at = pl.DataFrame({"at": range(len(candidates)),
                       "predicted_profit": [c.predicted for c in candidates]}).select(
        deployed("at")).item()
    diagnosed = [candidates[0]] if at == 0 else [candidates[0], candidates[at]]
    for c in diagnosed:
        out.rows += rule_rows(sw, c.program, c.name, c.extra, settings.plan, diagnostic=True)
    out.rows += _reference_rows(sw, settings, progress)
    _finish(out, sw, settings, run_id)
    return out


def milp_prediction(rows: list[dict[str, object]]) -> float:
    """The profit the model predicts for a rule's MILP plan in the plan month: what picks
    the deployed rule (`deployed`)."""
    return next(float(r["predicted_profit"]) for r in rows if r["optimizer"] == "milp")


class Candidate(NamedTuple):
    """A rule the deployment chooses among: the expert rule or one search's best."""

    program: Program
    name: str
    extra: dict[str, object]
    predicted: float
    """What the model predicts its MILP plan earns in the plan month (`milp_prediction`)."""


def search_runs(settings: CompareSettings, seed: int, llms: LLMs | None
                ) -> list[tuple[str, int, tuple[str, Clients] | None]]:
    """(searcher, budget, LLM backend) of each search seed `seed` runs: an LLM searcher once
    per backend in `llms` (none: skipped), any other once without one."""
    return [(name, budget, llm) for name, budget in settings.tasks(seed)
            for llm in ((llms or {}).items() if SEARCHERS[name].uses_llm else (None,))]


def _reference_rows(sw: SeedWorld, settings: CompareSettings,
                    progress: Callable[[str], None]) -> list[dict[str, object]]:
    """The baselines, the logged policy and the constrained oracle of the seed's month."""
    none = {"searcher": None, "budget": None, "backend": NO_BACKEND, "fitness": None,
            "iterations": None}
    started = time.perf_counter()
    baselines = baseline_outcomes(sw.world, baseline_month(sw.world, sw.month),
                                  replace(settings.baselines, seed=sw.seed))
    rows = [{**r, **none, "kind": "baseline", "optimizer": "milp", "seconds": s,
             "true_locks_missed": true_locks_missed(sw.world, baselines.plans[r["plan"]].lines)}
            for r, s in zip(baselines.rows, baselines.seconds, strict=True)]
    customers = pl.Series(baselines.customers, dtype=pl.String).implode()
    logged = realize(sw.world, logged_lines(sw.world, sw.month)).filter(
        pl.col("customer_id").is_in(customers))
    planned = logged["customer_id"].n_unique()
    rows.append({**outcome(LOGGED, logged, planned, len(baselines.customers) - planned, None),
                 **none, "kind": "logged", "optimizer": None, "seconds": 0.0,
                 "true_locks_missed": true_locks_missed(sw.world, logged)})
    oracle = constrained_oracle(sw.world, sw.month, settings.baselines.oracle)
    rows.append({**plan_outcome(ORACLE, oracle.lines, oracle.customers), **none,
                 "kind": "oracle", "optimizer": "milp (truth)", "seconds": oracle.seconds,
                 "true_locks_missed": true_locks_missed(sw.world, oracle.lines)})
    progress(f"seed {sw.seed}: baselines and oracle {time.perf_counter() - started:.0f}s")
    return rows


def _finish(out: SeedResult, sw: SeedWorld, settings: CompareSettings, run_id: str) -> None:
    """Gap to the seed's oracle and iterations to the threshold on every row, in place."""
    oracle = next(r["profit"] for r in out.rows if r["kind"] == "oracle")
    expert = next(r["fitness"] for r in out.rows if r["plan"] == f"{EXPERT} + milp")
    top = max([expert, *(c["best_fitness"] for c in out.convergence)])
    target = expert + settings.threshold * (top - expert)
    reached: dict[tuple[object, object, object], int] = {}
    gained = top - expert > SearchConfig().min_gain * abs(expert)  # else no target to reach
    for c in out.convergence if gained else ():
        run = (c["searcher"], c["budget"], c["backend"])
        if c["best_fitness"] >= target and run not in reached:
            reached[run] = c["iteration"]
    for r in out.rows:
        r.update(run_id=run_id, preset=settings.preset, documents=settings.documents,
                 seed=sw.seed, world_seed=settings.base_seed + sw.seed, month=sw.month,
                 method=r.pop("plan"), oracle_gap=1.0 - r["profit"] / oracle,
                 iterations_to_threshold=reached.get((r["searcher"], r["budget"],
                                                      r["backend"]))
                 if r["kind"] == "searcher" else None)


def rows_frame(rows: list[dict[str, object]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=ROW_SCHEMA, orient="row") if rows else \
        pl.DataFrame(schema=ROW_SCHEMA)


def convergence_frame(rows: list[dict[str, object]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=CONVERGENCE_SCHEMA, orient="row") if rows else \
        pl.DataFrame(schema=CONVERGENCE_SCHEMA)


SUMMARY_METRICS = ("units", "profit", "revenue", "violations", "true_locks_missed",
                   "predicted_profit",
                   "oracle_gap", "iterations_to_threshold", "seconds")


def summary(rows: pl.DataFrame) -> pl.DataFrame:
    """Table 1 with seeds: per documents x method x backend, mean and sd of each metric over
    the seeds, the number of seeds, and the realized / predicted profit ratio."""
    keys = ["documents", "kind", "method", "backend"]
    aggs = [pl.len().alias("seeds")]
    for m in (m for m in SUMMARY_METRICS if m in rows.columns):  # older runs lack some
        aggs += [pl.col(m).cast(pl.Float64).mean().alias(f"{m}_mean"),
                 pl.col(m).cast(pl.Float64).std().alias(f"{m}_sd")]
    predicted = pl.col("predicted_profit").is_not_null()
    aggs.append(pl.when(predicted.any()).then(
        pl.col("profit").filter(predicted).sum() / pl.col("predicted_profit").sum())
        .alias("realized_over_predicted"))
    order = {k: i for i, k in enumerate(KINDS)}
    return (rows.group_by(keys).agg(aggs)
            .with_columns(_order=pl.col("kind").replace_strict(order, return_dtype=pl.Int64))
            .sort(["documents", "_order", "profit_mean"], descending=[False, False, True])
            .drop("_order"))


def searcher_table(rows: pl.DataFrame) -> pl.DataFrame:
    """Table 2's shape: searcher x budget (rows) by LLM backend (columns), mean realized
    profit of the searched rule through the MILP, over the seeds."""
    runs = rows.filter((pl.col("kind") == "searcher") & (pl.col("optimizer") == "milp"))
    if runs.is_empty():
        return pl.DataFrame({"searcher": [], "budget": []},
                            schema={"searcher": pl.String, "budget": pl.Int64})
    return (runs.group_by("documents", "searcher", "budget", "backend")
            .agg(pl.col("profit").mean())
            .pivot("backend", index=["documents", "searcher", "budget"], values="profit")
            .sort("documents", "searcher", "budget"))


def component_losses(rows: pl.DataFrame) -> pl.DataFrame:
    """Which component loses the most against the oracle, in mean share of the oracle's
    profit over the seeds both runs share (a missing comparison is left out):

    - demand model (optimizer): deployed rule + MILP on the true demand − on the model;
    - optimizer: deployed rule + MILP − deployed rule + Appendix E heuristic (negative:
      MILP loses);
    - search: deployed rule + MILP − expert rule + MILP;
    - rule prices and eligibility: oracle − deployed rule + MILP on the true demand;
    - documents: deployed rule + MILP with the stated priors − without documents.
    """
    oracle = rows.filter(pl.col("kind") == "oracle").select("documents", "seed",
                                                            oracle="profit")
    share = rows.join(oracle, on=["documents", "seed"]).with_columns(
        share=pl.col("profit") / pl.col("oracle"))
    best = _deployed_rule_rows(share)
    picks = {
        "deeprule": best.filter(pl.col("optimizer") == "milp"),
        "heuristic": best.filter(pl.col("optimizer") == "appendix_e"),
        "true_demand": best.filter(pl.col("kind") == "diagnostic"),
        "expert": share.filter(pl.col("method") == f"{EXPERT} + milp"),
    }
    means = {k: v.select("documents", "seed", k=pl.col("share")).rename({"k": k})
             for k, v in picks.items()}
    wide = means["deeprule"]
    for k in ("heuristic", "true_demand", "expert"):
        wide = wide.join(means[k], on=["documents", "seed"], how="left")
    stated = wide.filter(pl.col("documents") == "stated")
    off = wide.filter(pl.col("documents") == "off").select("seed", off="deeprule")
    stated = stated.join(off, on="seed", how="left")
    losses = [
        ("demand model (MILP on model vs true demand)", "true_demand", "deeprule"),
        ("optimizer (MILP vs Appendix E heuristic)", "deeprule", "heuristic"),
        ("rule search (searched vs expert rule)", "deeprule", "expert"),
        ("documents (stated priors vs none)", "deeprule", "off"),
    ]
    out = [{"component": name, "share_of_oracle_gained": _mean_diff(stated, a, b),
            "seeds": int(stated.select(pl.col(a).is_not_null() & pl.col(b).is_not_null())
                         .to_series().sum()) if b in stated.columns else 0}
           for name, a, b in losses]
    out.append({"component": "rule prices and eligibility (oracle vs deployed rule on truth)",
                "share_of_oracle_gained": _mean_diff(
                    stated.with_columns(one=pl.lit(1.0)), "one", "true_demand"),
                "seeds": stated["true_demand"].drop_nulls().len()})
    return pl.DataFrame(out, schema={"component": pl.String,
                                     "share_of_oracle_gained": pl.Float64, "seeds": pl.Int64})


def headline(rows: pl.DataFrame) -> pl.DataFrame:
    """The issue's targets per documents setting, mean over seeds: the deployed plan (the
    deployed rule + MILP, `_deployed_rule_rows`) against the best baseline (≥ 1.05) and
    the oracle (≥ 0.97), and its violations (0); against the logged policy too (what the
    seller already earns)."""
    best = _deployed_rule_rows(rows).filter(pl.col("optimizer") == "milp").select(
        "documents", "seed", "method", deployed="profit", deployed_violations="violations")
    baseline = (rows.filter(pl.col("kind") == "baseline").group_by("documents", "seed")
                .agg(best_baseline=pl.col("profit").max()))
    oracle = rows.filter(pl.col("kind") == "oracle").select("documents", "seed",
                                                            oracle="profit")
    logged = rows.filter(pl.col("kind") == "logged").select("documents", "seed",
                                                            logged="profit")
    per_seed = (best.join(baseline, on=["documents", "seed"])
                .join(oracle, on=["documents", "seed"]).join(logged, on=["documents", "seed"]))
    return per_seed.group_by("documents").agg(
        pl.len().alias("seeds"), pl.col("method").unique().sort().str.join("; "),
        (pl.col("deployed") / pl.col("best_baseline")).mean().alias("vs_best_baseline"),
        (pl.col("deployed") / pl.col("oracle")).mean().alias("share_of_oracle"),
        (pl.col("deployed") / pl.col("logged")).mean().alias("vs_logged_policy"),
        pl.col("deployed_violations").sum().alias("violations")).sort("documents")


def _deployed_rule_rows(share: pl.DataFrame) -> pl.DataFrame:
    """Per documents x seed, every row (both optimizers, the true-demand diagnostic) of the
    rule DeepRule would deploy (`deployed`, over the expert rule and each search's best)."""
    rules = share.filter(pl.col("kind").is_in(["rule", "searcher", "diagnostic"]))
    top = (_rule_plans(rules).group_by("documents", "seed")
           .agg(*(deployed(c) for c in ("searcher", "budget", "backend"))))
    return rules.join(top, on=["documents", "seed", "searcher", "budget", "backend"],
                      nulls_equal=True)


def _rule_plans(rows: pl.DataFrame) -> pl.DataFrame:
    """The deployment's candidates: the expert rule's and each search's best rule's MILP
    plan, the expert rule's first (`deployed` keeps it on a tie)."""
    plans = rows.filter(pl.col("kind").is_in(["rule", "searcher"])
                        & (pl.col("optimizer") == "milp"))
    return plans.sort(pl.col("kind") != "rule", maintain_order=True)


def deployment_check(rows: pl.DataFrame) -> pl.DataFrame:
    """Whether the deployment criterion picks well, per documents setting over the seeds:
    the mean realized profit of the deployed plan (`deployed`), of the best-fitness rule's
    plan (the criterion it replaced) and of the best realized plan among the same
    candidates, and on how many seeds the deployed plan realizes more / less than the
    fitness pick and is the best. Evaluation only: it reads realized profit."""
    per_seed = _rule_plans(rows).group_by("documents", "seed").agg(
        by_fitness=first_by("profit", "fitness"), deployed=deployed("profit"),
        best=pl.col("profit").max())
    return per_seed.group_by("documents").agg(
        pl.len().alias("seeds"), pl.col("by_fitness", "deployed", "best").mean(),
        (pl.col("deployed") > pl.col("by_fitness")).sum().alias("deployed_better"),
        (pl.col("deployed") < pl.col("by_fitness")).sum().alias("deployed_worse"),
        (pl.col("deployed") == pl.col("best")).sum().alias("deployed_is_best"),
    ).sort("documents")


def _mean_diff(frame: pl.DataFrame, a: str, b: str) -> float | None:
    if a not in frame.columns or b not in frame.columns:
        return None
    diff = (frame[a] - frame[b]).drop_nulls().drop_nans()
    return float(diff.mean()) if diff.len() else None


def summary_display(rows: pl.DataFrame) -> pl.DataFrame:
    """`summary` as a reader wants it: each metric as "mean ± sd" over the seeds."""
    table = summary(rows)
    return table.select(
        "documents", "method", "backend", "seeds",
        *(_mean_sd(m, r) for m, r in (("units", 0), ("profit", 0), ("revenue", 0),
                                       ("oracle_gap", 3), ("violations", 1),
                                       ("true_locks_missed", 1))
          if f"{m}_mean" in table.columns),
        pl.col("realized_over_predicted").round(3),
        pl.col("iterations_to_threshold_mean").round(1).alias("iterations_to_threshold"),
        pl.col("seconds_mean").round(1).alias("seconds"))


def _mean_sd(metric: str, digits: int) -> pl.Expr:
    """"mean ± sd", or the mean alone over one seed (no sd), or null when never measured."""
    mean = pl.col(f"{metric}_mean").round(digits).cast(pl.String)
    sd = pl.col(f"{metric}_sd").round(digits).cast(pl.String)
    return (pl.when(sd.is_null()).then(mean).otherwise(pl.format("{} ± {}", mean, sd))
            .alias(metric))


def convergence_series(curves: pl.DataFrame, documents: str = "stated"
                       ) -> dict[str, tuple[list[int], list[float], list[float]]]:
    """Per searcher x budget x backend: iterations, mean best fitness and mean realized
    profit over the seeds (a search that stopped early keeps its last value)."""
    out = {}
    chosen = curves.filter(pl.col("documents") == documents)
    for (searcher, budget, backend), run in chosen.group_by(
            "searcher", "budget", "backend", maintain_order=True):
        label = f"{searcher} N={budget}" + ("" if backend == NO_BACKEND else f" ({backend})")
        series = [run.pivot("seed", index="iteration", values=v).sort("iteration")
                  .fill_null(strategy="forward") for v in ("best_fitness", "realized_profit")]
        out[label] = (series[0]["iteration"].to_list(),
                      *(s.drop("iteration").mean_horizontal().to_list() for s in series))
    return out
