"""Group `search`: the LLM-guided rule search on the held-out months.

`rule_search` loads the registered demand model, builds candidate rows
(customer x SKU pairs of the held-out months, each labeled with its customer's
segment) and runs the reflection loop (`deeprule.search.reflect`: segment losses,
reflections, similar memories, restructures; metadata shows the best rule's loss
per segment and every reflection), then has the LLM write the run's phase summary
(`deeprule.search.summary`, the paper's third prompt). `evolved_rule_search` runs
the paper's evolutionary baseline searcher (`deeprule.search.evolve`) on the same
rows under the same Φ. Both checkpoint every iteration (generation) under a key of
their settings and rows: a killed materialization resumes, an unchanged one reruns
nothing.
Each table is every iteration (a generation for evolution), the best rule
marked, the rule text rendered with its fitted constants (what an auditor
reads; `rule_plans_vs_truth` in assets/evaluation.py re-parses it and prices
the plans under the simulator's true demand).
"""

import time
from contextlib import ExitStack
from dataclasses import dataclass

import dagster as dg
import polars as pl
from dagster_duckdb import DuckDBResource

from assets._config import from_domain
from assets._heldout import SOURCE_DEPS, held_out_candidates
from assets._iterations import IterationRecorder
from assets._metadata import frame_metadata, table_markdown
from assets._plots import plot_metadata
from deeprule.plots import fitness_trace
from deeprule.search.checkpoint import Checkpoint, candidates_key, run_key
from deeprule.search.evolve import EvolveConfig, evolve
from deeprule.search.objective import FitnessConfig
from deeprule.search.prompts import VERSIONS
from deeprule.search.reflect import EXPERT_RULE, SearchConfig, SearchResult, search
from deeprule.search.summary import phase_summary, summary_markdown
from resources.llm import LLMResource
from resources.mlflow import MlflowResource
from resources.paths import data_dir

GROUP = "search"


class FitnessWeights(dg.Config):
    """The weights of Φ (eq. 22) every searcher is scored by (docs/search.md)."""

    eta: float = from_domain(FitnessConfig, "eta", "Weight of (price - usual price)^2.")
    lam: float = from_domain(FitnessConfig, "lam", "Weight of the rule's complexity.")
    rho: float = from_domain(FitnessConfig, "rho", "Weight of prices outside [cost, list].")

    def fitness(self) -> FitnessConfig:
        return FitnessConfig(eta=self.eta, lam=self.lam, rho=self.rho)


class RuleSearchConfig(FitnessWeights):
    """Search length and the fitness weights (docs/search.md)."""

    iterations: int = from_domain(SearchConfig, "iterations",
                                  "N: iterations and LLM requests (re-asks included) at most.")
    patience: int = from_domain(SearchConfig, "patience",
                                "Stop after this many without a new best.")
    depth: int = from_domain(SearchConfig, "depth", "Nesting depth of proposed rule trees.")
    rule_form: str = from_domain(SearchConfig, "rule_form",
                                 "tree (JSON rule trees) | text (def stock(row) text)")
    tau: float = from_domain(SearchConfig, "tau", "A segment whose loss is above τ fails.")
    epsilon: float = from_domain(SearchConfig, "epsilon",
                                 "Stop once every segment's loss is below ε.")
    xi: float = from_domain(SearchConfig, "xi",
                            "A fitted proposal with loss above ξ is restructured next.")
    top_k: int = from_domain(SearchConfig, "top_k", "Similar memories quoted per prompt (K).")

    def search(self) -> SearchConfig:
        return SearchConfig(iterations=self.iterations, patience=self.patience, depth=self.depth,
                            rule_form=self.rule_form,
                            tau=self.tau, epsilon=self.epsilon, xi=self.xi, top_k=self.top_k,
                            fitness=self.fitness())


@dg.asset(
    group_name=GROUP, kinds={"polars", "duckdb"}, pool="duckdb", deps=SOURCE_DEPS,
    description="Every iteration of the LLM-guided rule search (expert rule first), with "
    "fitness, predicted profit, violations, LLM tokens, the prompt template, the LLM's "
    "reflection and the segment losses; the best rule marked.",
)
def rule_search(context: dg.AssetExecutionContext, config: RuleSearchConfig,
                llm: LLMResource, mlflow: MlflowResource, duckdb: DuckDBResource,
                demand_model: pl.DataFrame) -> dg.Output[pl.DataFrame]:
    started = time.perf_counter()
    ref, _, cand = held_out_candidates(mlflow, duckdb, demand_model)
    with ExitStack() as stack:
        clients = [stack.enter_context(c) for c in llm.clients("rule_proposal")]
        backends = [c.backend for c in clients]
        key = run_key(EXPERT_RULE, config.search(), ref.version,
                      ",".join(b.model for b in backends), ",".join(b.settings for b in backends),
                      VERSIONS, candidates_key(cand))
        checkpoint = Checkpoint(data_dir() / "checkpoints" / "rule_search.json", key)
        with mlflow.run(context, "rule_search") as tracked:
            result = search(clients, cand, config.search(), progress=context.log.info,
                            checkpoint=checkpoint,
                            on_iteration=IterationRecorder(duckdb, tracked, "llm_reflection",
                                                           key))
        usage = clients[0].usage.summary()  # shared by the clients
    with llm.client("reflection_summary") as writer:
        summary, why_not = phase_summary(writer, result)
        summary_usage = {f"summary_{k}": v for k, v in writer.usage.summary().items()
                         if k.endswith("tokens")}
    written = dg.MetadataValue.md(summary_markdown(summary) if summary else why_not)
    who = Producer("llm_reflection", context.run_id)
    return _search_output(result, ref.version, cand.height, started,
                          {**usage, **summary_usage, "phase_summary": written,
                           **_reflection_metadata(result),
                           "mlflow_run": mlflow.run_url(tracked.run_id)},
                          "Fitness of each proposal after its constants were fitted", who)


def _reflection_metadata(result: SearchResult) -> dict[str, object]:
    """The best rule's loss per segment, each iteration's reflection and why the loop ended."""
    reflections = [f"{i.number}. [{i.template}, {i.status}] {i.reflection}"
                   for i in result.iterations if i.reflection]
    out: dict[str, object] = {
        "stopped": result.stopped, "memory_entries": len(result.memory.entries),
        "reflections": dg.MetadataValue.md("\n".join(reflections) or "(no reflection yet)")}
    if result.segments is not None:
        losses = result.segments.select("segment", "rows", "loss", "value", "attainable",
                                        "profit")
        out |= {"segment_losses": dg.MetadataValue.md(table_markdown(losses)),
                "max_segment_loss": round(float(losses["loss"].max()), 4)}
    return out


class EvolvedSearchConfig(FitnessWeights):
    """Budget and seed of the evolutionary searcher (Appendix G; docs/search.md)."""

    budget: int = from_domain(EvolveConfig, "budget", "Distinct rules scored at most (N).")
    population: int = from_domain(EvolveConfig, "population", "Rules per generation.")
    seed: int = from_domain(EvolveConfig, "seed", "Random seed of the evolution.")

    def evolve(self) -> EvolveConfig:
        return EvolveConfig(budget=self.budget, population=self.population, seed=self.seed,
                            fitness=self.fitness())


@dg.asset(
    group_name=GROUP, kinds={"polars", "duckdb"}, pool="duckdb", deps=SOURCE_DEPS,
    description="Every generation of the evolutionary rule search (the paper's GP baseline, "
    "no LLM) on the same candidate rows and fitness as rule_search; the best rule marked.",
)
def evolved_rule_search(context: dg.AssetExecutionContext, config: EvolvedSearchConfig,
                        mlflow: MlflowResource, duckdb: DuckDBResource,
                        demand_model: pl.DataFrame) -> dg.Output[pl.DataFrame]:
    started = time.perf_counter()
    ref, _, cand = held_out_candidates(mlflow, duckdb, demand_model)
    key = run_key(ref.version, candidates_key(cand))  # evolve adds its settings
    checkpoint = Checkpoint(data_dir() / "checkpoints" / "evolved_rule_search.json", key)
    result = evolve(cand, config.evolve(), progress=context.log.info, checkpoint=checkpoint)
    with mlflow.run(context, "evolved_rule_search") as tracked:  # seconds long: recorded after
        record = IterationRecorder(duckdb, tracked, "evolution",
                                   checkpoint.within("evolution", config.evolve()).key)
        for generation in result.iterations:
            record(generation)
    return _search_output(result, ref.version, cand.height, started,
                          {"mlflow_run": mlflow.run_url(tracked.run_id)},
                          "Best fitness so far, by generation",
                          Producer("evolution", context.run_id))


@dataclass(frozen=True)
class Producer:
    """Who made a search table's rules: the searcher and the run (each iteration names the
    LLM backend and model that wrote its proposal)."""

    searcher: str
    run_id: str


def _search_output(result: SearchResult, model_version: object, candidates: int,
                   started: float, extra: dict, plot_title: str,
                   who: Producer) -> dg.Output[pl.DataFrame]:
    """The iteration table and what a reviewer looks at first: best vs expert, the plot."""
    table = result.table().with_columns(demand_model_version=pl.lit(str(model_version)),
                                        **{k: pl.lit(v, pl.String) for k, v in vars(who).items()})
    best = table.filter(pl.col("is_best")).row(0, named=True)
    expert = table.row(0, named=True)
    return dg.Output(table, metadata=frame_metadata(
        table, time.perf_counter() - started, candidates=candidates,
        best_rule=dg.MetadataValue.md(f"```python\n{best['rule']}```"),
        best_fitness=round(best["fitness"], 3), expert_fitness=round(expert["fitness"], 3),
        best_iteration=int(best["number"]), violations=int(best["violations"]),
        predicted_profit=round(best["profit"], 2), **extra,
        fitness_plot=plot_metadata(fitness_trace(table["number"].to_list(),
                                                 table["fitness"].to_list()),
                                   plot_title),
    ))
