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

A rule whose canonical text was already scored is not scored again: the budget counts
distinct rules. The expert rule joins the first population (every searcher starts from
the same expert knowledge). Nothing is executed: trees are IR, evaluated by numpy.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from deeprule.rules import Program, decide, ir, parse_program, render_program
from deeprule.search.objective import RULE_FEATURES, Candidates, FitnessConfig, Outcome, outcome
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
    """Children larger than this (per function) are discarded: rules stay auditable."""
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
        self.rng = np.random.default_rng(config.seed)
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
class _Scored:
    individual: Individual
    program: Program
    text: str
    outcome: Outcome


def evolve(cand: Candidates, config: EvolveConfig = EvolveConfig(), start: str = EXPERT_RULE,
           progress: Callable[[str], None] = lambda _: None) -> SearchResult:
    """Evolve rules until `config.budget` distinct rules were scored; one record per
    generation (the best so far, whether the generation improved it, its seconds)."""
    started = time.perf_counter()
    forge = _Forge(cand, config)
    seen: dict[str, _Scored | None] = {}

    def score(individual: Individual, any_size: bool = False) -> _Scored | None:
        program = individual.program()
        text = render_program(program)
        if text not in seen and len(seen) < config.budget:
            too_big = not any_size and any(_size(r) > config.max_nodes
                                           for r in program.functions.values())
            seen[text] = None if too_big else _Scored(
                individual, program, text,
                outcome(program, decide(program, cand.columns), cand, config.fitness))
        return seen.get(text)

    expert = parse_program(start, RULE_FEATURES)
    first = [Individual(_numbered(expert["stock"], []), _numbered(expert["price"], []))]
    best = score(first[0], any_size=True)  # the expert rule is kept whatever its size
    result = SearchResult(best.program, best.outcome)
    result.iterations.append(_record(0, "expert", best, None, len(seen), started))
    began = time.perf_counter()
    first += [forge.random() for _ in range(config.population - 1)]
    population = _ranked(s for s in map(score, first) if s)
    generation = 1
    best = _advance(result, best, population[0], generation, len(seen), began)
    while len(seen) < config.budget:
        generation += 1
        before, began = len(seen), time.perf_counter()
        children = [score(_child(forge, population, config)) for _ in range(config.population)]
        population = _select(forge, population, [c for c in children if c], config)
        best = _advance(result, best, population[0], generation, len(seen), began)
        progress(f"generation {generation}: {result.iterations[-1].status}, best Φ "
                 f"{best.outcome.fitness:.2f}, {len(seen)}/{config.budget} rules scored")
        if len(seen) == before:  # nothing new can be bred: the population has converged
            break
    return result


def _advance(result: SearchResult, best: _Scored, leader: _Scored, generation: int,
             scored: int, began: float) -> _Scored:
    """Record a generation (1 = the initial population); the new best if `leader` beats it."""
    gain = leader.outcome.fitness - best.outcome.fitness
    if gain > 0:
        best = leader
        result.best, result.best_outcome, result.best_number = (best.program, best.outcome,
                                                                generation)
    result.iterations.append(_record(generation, "improved" if gain > 0 else "kept", best,
                                     gain if gain > 0 else None, scored, began))
    return best


def _ranked(scored) -> list[_Scored]:
    return sorted(scored, key=lambda s: -s.outcome.fitness)


def _child(forge: _Forge, population: list[_Scored], config: EvolveConfig) -> Individual:
    a = _tournament(forge, population, config).individual
    stock, price = a.stock, a.price
    if forge.rng.random() < config.crossover_rate:
        b = _tournament(forge, population, config).individual
        stock, price = (forge.crossover(stock, b.stock), price) if forge.rng.random() < 0.5 \
            else (stock, forge.crossover(price, b.price))
    if forge.rng.random() < config.mutation_rate:
        stock = forge.mutate(stock)
    if forge.rng.random() < config.mutation_rate:
        price = forge.mutate(price)
    return Individual(stock, price)


def _tournament(forge: _Forge, pool: list[_Scored], config: EvolveConfig) -> _Scored:
    picks = forge.rng.choice(len(pool), size=min(config.tournament, len(pool)), replace=False)
    return pool[int(min(picks))]  # pools are ranked: the lowest index is the fittest


def _select(forge: _Forge, parents: list[_Scored], children: list[_Scored],
            config: EvolveConfig) -> list[_Scored]:
    """Elites (top share of parents and children), the rest by tournament from the merge."""
    merged = _ranked({s.text: s for s in [*parents, *children]}.values())
    n_elite = max(1, round(config.elite_share * config.population))
    chosen, rest = merged[:n_elite], merged[n_elite:]
    while rest and len(chosen) < config.population:
        winner = _tournament(forge, rest, config)
        chosen.append(winner)
        rest.remove(winner)
    return _ranked(chosen)


def _record(number: int, status: str, best: _Scored, delta: float | None, scored: int,
            started: float) -> Iteration:
    return Iteration(number, status, best.text, best.outcome.fitness, best.outcome.profit,
                     best.outcome.violations, delta, f"{scored} distinct rules scored",
                     seconds=time.perf_counter() - started)
