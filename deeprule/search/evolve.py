"""Evolutionary symbolic regression over rules: the paper's GP baseline searcher (Appendix G).

A population of rules (a `stock` condition `h(x) > τ` and a `price` expression, both
trees of the rule IR) evolves under the same fitness Φ (eq. 22) and the same evaluation
budget N as every other searcher. Settings follow Appendix G, scaled to the budget:
50 random trees of depth 2-5 with 70% feature leaves, the protected operators
{+, −, ×, ÷, **, log, exp}, five mutation types applied at 30% (structural expansion
with a Poisson(λ)-deep subtree, structural pruning, parameter perturbation, operator
replacement, feature replacement), subtree crossover, top-10% elitism and tournament
selection over parents and children (the paper's environmental selection).
Complexity is penalized inside Φ (λ ℓ(f)), as for the LLM searcher.

Every scored rule lives in the program database (search/database.py) by canonical
form: a rule already scored is not scored again (the budget counts distinct rules), a
child larger than `max_nodes` is discarded before it costs anything, and each entry
records its parent. The population of an island is its membership in the database:
parents are drawn from it by tournament (`sample_parent`), and environmental selection
(elites, then tournaments over parents and children) sets who stays (`keep_only`).
Appendix G evolves one population (`islands` = 1); with more, the population is split
across islands and each island's best joins the next after every generation.
The expert rule joins the first population (every searcher starts from the same expert
knowledge). Nothing is executed: trees are IR, evaluated by numpy.

With a `Checkpoint`, the database (islands = populations), the records, the generation
and both random streams are saved after every generation: a killed run resumes after
its last finished generation and ends where an uninterrupted one would.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from deeprule.rules import parse_program
from deeprule.search.checkpoint import Checkpoint
from deeprule.search.database import (
    Entry,
    ProgramDatabase,
    plain_scorer,
    result_state,
    resumed_result,
)
from deeprule.search.forge import Forge, Individual, MutationConfig, too_large
from deeprule.search.objective import RULE_FEATURES, Candidates, FitnessConfig
from deeprule.search.reflect import EXPERT_RULE, Iteration, SearchResult


@dataclass(frozen=True)
class EvolveConfig:
    """Appendix G's configuration; `budget` is the number of distinct rules scored (N)."""

    budget: int = 300
    population: int = 50
    mutation_rate: float = 0.3
    crossover_rate: float = 0.5
    elite_share: float = 0.1
    tournament: int = 3
    mutation: MutationConfig = MutationConfig()
    """Random trees' depth and leaves, the operators' settings, the size cap."""
    islands: int = 1
    """Populations evolving apart (the population split among them), ring migration each
    generation; Appendix G's single population is 1."""
    seed: int = 0
    fitness: FitnessConfig = FitnessConfig()


@dataclass
class _Run:
    """What a generation changes and a checkpoint keeps."""

    db: ProgramDatabase
    result: SearchResult
    best: Entry
    generation: int = 0
    finished: bool = False


def evolve(cand: Candidates, config: EvolveConfig = EvolveConfig(), start: str = EXPERT_RULE,
           progress: Callable[[str], None] = lambda _: None,
           checkpoint: Checkpoint | None = None) -> SearchResult:
    """Evolve rules until `config.budget` distinct rules were scored; one record per
    generation (the best so far, whether the generation improved it, its seconds).
    `checkpoint`: resume the run saved there under the same settings, save each generation."""
    if config.population < 2 * config.islands:
        raise ValueError(f"a population of {config.population} cannot fill "
                         f"{config.islands} islands of at least 2")
    checkpoint = checkpoint.within("evolution", config, start) if checkpoint else None
    forge = Forge(cand, config.mutation, np.random.default_rng((config.seed, 1)))
    run = _resumed(checkpoint, cand, config, forge) if checkpoint else None
    if run is None:
        run = _first_generation(cand, config, start, forge)
        _save(checkpoint, run, forge)
    else:
        progress(f"resumed after generation {run.generation}")
    while not run.finished:
        began, before = time.perf_counter(), run.db.spent
        run.generation += 1
        for island in range(config.islands):
            _breed(forge, run.db, island, config)
        run.db.migrate()
        _advance(run, time.perf_counter() - began)
        # nothing new could be bred: the population has converged
        run.finished = run.db.exhausted or run.db.spent == before
        _save(checkpoint, run, forge)
        progress(f"generation {run.generation}: {run.result.iterations[-1].status}, best Φ "
                 f"{run.best.fitness:.2f}, {run.db.spent}/{config.budget} rules scored")
    return run.result


def _first_generation(cand: Candidates, config: EvolveConfig, start: str,
                      forge: Forge) -> _Run:
    """Generation 0, the expert rule (kept whatever its size); generation 1, the random
    initial population around it, spread over the islands."""
    started = time.perf_counter()
    db = ProgramDatabase(plain_scorer(cand, config.fitness), config.budget, config.islands,
                         config.seed, config.tournament)
    expert = db.add(parse_program(start, RULE_FEATURES), author="expert", island=0)
    if expert is None:
        raise ValueError("the evolution's budget must allow the expert rule")
    result = SearchResult(expert.program, expert.outcome)
    result.iterations.append(_record(0, "expert", expert, None, db.spent,
                                     time.perf_counter() - started))
    run, began = _Run(db, result, expert, 1), time.perf_counter()
    for number in range(config.population - 1):
        _add(db, forge.random(), config, (number + 1) % config.islands, None)
    _advance(run, time.perf_counter() - began)
    run.finished = db.exhausted
    return run


def _add(db: ProgramDatabase, child: Individual, config: EvolveConfig, island: int,
         parent: Entry | None) -> Entry | None:
    """The child's database entry (scored if new and the budget allows); a child larger than
    `max_nodes` is discarded before it costs anything."""
    program = child.program()
    if too_large(program, config.mutation):
        return None
    return db.add(program, author="evolution", parent=parent.key if parent else None,
                  island=island)


def _breed(forge: Forge, db: ProgramDatabase, island: int, config: EvolveConfig) -> None:
    """One generation of an island: children of tournament-drawn parents, then selection."""
    size = _island_size(config, island)
    for _ in range(size):
        if db.exhausted:
            break
        parent = db.sample_parent(island)
        _add(db, _child(forge, db, island, parent, config), config, island, parent)
    db.keep_only(island, _select(forge, db.members(island), size, config))


def _island_size(config: EvolveConfig, island: int) -> int:
    share, extra = divmod(config.population, config.islands)
    return share + (island < extra)


def _advance(run: _Run, seconds: float) -> None:
    """Record a generation (1 = the initial population); the database's best is the new best
    when it beats the old one."""
    leader = run.db.best()
    gain = leader.fitness - run.best.fitness
    if gain > 0:
        run.best = leader
        run.result.best, run.result.best_outcome = leader.program, leader.outcome
        run.result.best_number = run.generation
    run.result.iterations.append(_record(run.generation, "improved" if gain > 0 else "kept",
                                         run.best, gain if gain > 0 else None, run.db.spent,
                                         seconds))


def _child(forge: Forge, db: ProgramDatabase, island: int, parent: Entry,
           config: EvolveConfig) -> Individual:
    a = Individual.of(parent.program)
    stock, price = a.stock, a.price
    if forge.rng.random() < config.crossover_rate:
        b = Individual.of(db.sample_parent(island).program)
        stock, price = (forge.crossover(stock, b.stock), price) if forge.rng.random() < 0.5 \
            else (stock, forge.crossover(price, b.price))
    if forge.rng.random() < config.mutation_rate:
        stock = forge.mutate(stock)
    if forge.rng.random() < config.mutation_rate:
        price = forge.mutate(price)
    return Individual(stock, price)


def _select(forge: Forge, merged: list[Entry], size: int, config: EvolveConfig
            ) -> list[Entry]:
    """Elites (the top share of parents and children, `merged` ranked), the rest by
    tournament from the others (the paper's environmental selection)."""
    n_elite = max(1, round(config.elite_share * size))
    chosen, rest = merged[:n_elite], merged[n_elite:]
    while rest and len(chosen) < size:
        picks = forge.rng.choice(len(rest), size=min(config.tournament, len(rest)),
                                 replace=False)
        chosen.append(rest.pop(int(min(picks))))  # `rest` is ranked: lowest index fittest
    return chosen


def _record(number: int, status: str, best: Entry, delta: float | None, scored: int,
            seconds: float) -> Iteration:
    return Iteration(number, status, best.text, best.fitness, best.outcome.profit,
                     best.outcome.violations, delta, f"{scored} distinct rules scored",
                     seconds=seconds)


def _save(checkpoint: Checkpoint | None, run: _Run, forge: Forge) -> None:
    if checkpoint:
        checkpoint.save({**result_state(run.result), "database": run.db.state(),
                         "best": run.best.key, "generation": run.generation,
                         "finished": run.finished, "forge_rng": forge.rng.bit_generator.state})


def _resumed(checkpoint: Checkpoint, cand: Candidates, config: EvolveConfig,
             forge: Forge) -> _Run | None:
    """The run saved after its last finished generation (rules re-scored as written, no
    budget spent), or None."""
    state = checkpoint.load()
    if not state:
        return None
    db = ProgramDatabase.restored(state["database"], cand, config.fitness,
                                  plain_scorer(cand, config.fitness), config.budget,
                                  config.islands, config.seed, config.tournament)
    forge.rng.bit_generator.state = state["forge_rng"]
    result = resumed_result(state, cand, config.fitness)
    best = db.entries[state["best"]]
    result.best, result.best_outcome = best.program, best.outcome
    return _Run(db, result, best, state["generation"], state["finished"])
