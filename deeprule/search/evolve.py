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

from deeprule.rules import Program, ir, parse_program
from deeprule.search.checkpoint import Checkpoint
from deeprule.search.database import (
    Entry,
    ProgramDatabase,
    plain_scorer,
    result_state,
    resumed_result,
)
from deeprule.search.objective import RULE_FEATURES, Candidates, FitnessConfig
from deeprule.search.reflect import EXPERT_RULE, Iteration, SearchResult

BINARY_OPS = ("+", "-", "*", "/", "**")
UNARY_FUNCS = ("log", "exp")


@dataclass(frozen=True)
class EvolveConfig:
    """Appendix G's configuration; `budget` is the number of distinct rules scored (N)."""

    budget: int = 300
    population: int = 50
    min_depth: int = 2
    max_depth: int = 5
    feature_leaf_share: float = 0.7
    mutation_rate: float = 0.3
    crossover_rate: float = 0.5
    elite_share: float = 0.1
    tournament: int = 3
    expansion_lambda: float = 1.0
    """Mean depth of an inserted subtree (Poisson)."""
    perturbation_sigma: float = 0.1
    """Relative Gaussian noise of a perturbed constant."""
    max_nodes: int = 40
    """Children larger than this (per function) are discarded unscored: rules stay auditable."""
    islands: int = 1
    """Populations evolving apart (the population split among them), ring migration each
    generation; Appendix G's single population is 1."""
    seed: int = 0
    fitness: FitnessConfig = FitnessConfig()


@dataclass(frozen=True)
class Individual:
    stock: ir.Node
    price: ir.Node

    def program(self) -> Program:
        """The rule with its constants numbered in reading order (stock first)."""
        constants: list[float] = []
        roots = {"stock": _numbered(self.stock, constants),
                 "price": _numbered(self.price, constants)}
        return Program(roots, tuple(constants))

    @classmethod
    def of(cls, program: Program) -> Individual:
        return cls(program.functions["stock"], program.functions["price"])


def _numbered(node: ir.Node, constants: list[float]) -> ir.Node:
    if isinstance(node, ir.Const):
        constants.append(node.value)
        return ir.Const(node.value, len(constants) - 1)
    return _with_children(node, [_numbered(c, constants) for c in node.children()])


def _with_children(node: ir.Node, children: list[ir.Node]) -> ir.Node:
    """`node` with its child nodes replaced in order (the tree is immutable)."""
    if isinstance(node, ir.Binary):
        return type(node)(node.op, children[0], children[1])
    if isinstance(node, ir.Unary):
        return ir.Unary(node.op, children[0])
    if isinstance(node, ir.Call):
        return ir.Call(node.func, tuple(children))
    if isinstance(node, ir.Logic):
        return ir.Logic(node.op, tuple(children))
    if isinstance(node, ir.Where):
        return ir.Where(*children)
    return node


def _paths(node: ir.Node, path: tuple[int, ...] = ()) -> list[tuple[int, ...]]:
    """Every node's position (child indices from the root), parents first."""
    out = [path]
    for i, child in enumerate(node.children()):
        out.extend(_paths(child, (*path, i)))
    return out


def _at(node: ir.Node, path: tuple[int, ...]) -> ir.Node:
    for i in path:
        node = node.children()[i]
    return node


def _replace(node: ir.Node, path: tuple[int, ...], new: ir.Node) -> ir.Node:
    if not path:
        return new
    children = list(node.children())
    children[path[0]] = _replace(children[path[0]], path[1:], new)
    return _with_children(node, children)


def _size(node: ir.Node) -> int:
    return sum(1 for _ in ir.walk(node))


class _Forge:
    """Random trees, mutations and crossover over the features' value scales."""

    def __init__(self, cand: Candidates, config: EvolveConfig) -> None:
        self.rng = np.random.default_rng((config.seed, 1))  # apart from the database's draws
        self.config = config
        self.features = tuple(RULE_FEATURES)
        self.scale = {f: float(np.nanmedian(np.abs(cand.columns[f])) or 1.0)
                      for f in self.features}

    def leaf(self) -> ir.Node:
        if self.rng.random() < self.config.feature_leaf_share:
            return ir.Feature(str(self.rng.choice(self.features)))
        return ir.Const(round(float(self.rng.uniform(0.5, 2.0)), 3), 0)

    def tree(self, depth: int) -> ir.Node:
        """A random expression exactly `depth` operator levels deep on one branch."""
        if depth <= 0:
            return self.leaf()
        if self.rng.random() < 0.15:
            return ir.Call(str(self.rng.choice(UNARY_FUNCS)), (self.tree(depth - 1),))
        deep, shallow = self.tree(depth - 1), self.tree(int(self.rng.integers(0, depth)))
        left, right = (deep, shallow) if self.rng.random() < 0.5 else (shallow, deep)
        return ir.BinOp(str(self.rng.choice(BINARY_OPS)), left, right)

    def condition(self, depth: int) -> ir.Node:
        """`h(x) > τ`, τ on the scale of h's first feature."""
        expr = self.tree(depth)
        names = sorted(ir.feature_names(expr))
        tau = self.scale[names[0]] * float(self.rng.uniform(0.0, 1.0)) if names else 0.0
        return ir.Compare(">", expr, ir.Const(round(tau, 3), 0))

    def random(self) -> Individual:
        c = self.config
        depth = lambda: int(self.rng.integers(c.min_depth, c.max_depth + 1))  # noqa: E731
        return Individual(self.condition(depth() - 1), self.tree(depth()))

    def mutate(self, root: ir.Node) -> ir.Node:
        """One of the five mutation types at a random node."""
        paths = _paths(root)
        path = paths[int(self.rng.integers(len(paths)))]
        node = _at(root, path)
        kind = int(self.rng.integers(5))
        if kind == 0:  # structural expansion
            new = self.tree(1 + int(self.rng.poisson(self.config.expansion_lambda)))
        elif kind == 1:  # structural pruning
            new = self.leaf() if node.children() else node
        elif kind == 2:  # parameter perturbation (every constant of the subtree)
            new = self._perturbed(node)
        elif kind == 3:  # operator replacement
            new = self._other_operator(node)
        else:  # feature replacement
            new = ir.Feature(str(self.rng.choice(self.features))) \
                if isinstance(node, ir.Feature | ir.Const) else node
        if isinstance(root, ir.Compare) and not path:  # the condition keeps its `> τ` form
            return root if not isinstance(new, ir.Compare) else new
        return _replace(root, path, new)

    def _perturbed(self, node: ir.Node) -> ir.Node:
        if isinstance(node, ir.Const):
            noise = float(self.rng.normal(0.0, self.config.perturbation_sigma))
            return ir.Const(node.value * (1.0 + noise) + noise * 0.01, 0)
        return _with_children(node, [self._perturbed(c) for c in node.children()])

    def _other_operator(self, node: ir.Node) -> ir.Node:
        if isinstance(node, ir.BinOp):
            return ir.BinOp(str(self.rng.choice(BINARY_OPS)), node.left, node.right)
        if isinstance(node, ir.Call) and node.func in UNARY_FUNCS:
            return ir.Call(str(self.rng.choice(UNARY_FUNCS)), node.args)
        return node

    def crossover(self, a: ir.Node, b: ir.Node) -> ir.Node:
        """`a` with a random subtree replaced by a random expression subtree of `b`."""
        targets = [p for p in _paths(a) if p]  # never the root: a condition stays one
        donors = [p for p in _paths(b) if not isinstance(_at(b, p), ir.Compare)]
        if not targets or not donors:
            return a
        target = targets[int(self.rng.integers(len(targets)))]
        donor = donors[int(self.rng.integers(len(donors)))]
        return _replace(a, target, _at(b, donor))


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
    forge = _Forge(cand, config)
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
                      forge: _Forge) -> _Run:
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
    if any(_size(root) > config.max_nodes for root in program.functions.values()):
        return None
    return db.add(program, author="evolution", parent=parent.key if parent else None,
                  island=island)


def _breed(forge: _Forge, db: ProgramDatabase, island: int, config: EvolveConfig) -> None:
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


def _child(forge: _Forge, db: ProgramDatabase, island: int, parent: Entry,
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


def _select(forge: _Forge, merged: list[Entry], size: int, config: EvolveConfig
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


def _save(checkpoint: Checkpoint | None, run: _Run, forge: _Forge) -> None:
    if checkpoint:
        checkpoint.save({**result_state(run.result), "database": run.db.state(),
                         "best": run.best.key, "generation": run.generation,
                         "finished": run.finished, "forge_rng": forge.rng.bit_generator.state})


def _resumed(checkpoint: Checkpoint, cand: Candidates, config: EvolveConfig,
             forge: _Forge) -> _Run | None:
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
