"""Random rule trees, their mutations and crossover: the variation operators of the
evolutionary searcher (Appendix G's five mutation types and subtree crossover), also used by
the reflection loop to vary a proposal that repeats a structure already fitted.

Trees are the rule IR, immutable: an operator returns a new tree, never executes one.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from deeprule.rules import Program, ir
from deeprule.search.objective import RULE_FEATURES, Candidates

BINARY_OPS = ("+", "-", "*", "/", "**")
UNARY_FUNCS = ("log", "exp")


@dataclass(frozen=True)
class MutationConfig:
    """Appendix G's settings of the variation operators."""

    min_depth: int = 2
    max_depth: int = 5
    """Depth of a random tree (the initial population)."""
    feature_leaf_share: float = 0.7
    expansion_lambda: float = 1.0
    """Mean depth of an inserted subtree (Poisson)."""
    perturbation_sigma: float = 0.1
    """Relative Gaussian noise of a perturbed constant."""
    max_nodes: int = 40
    """Children larger than this (per function) are discarded unscored: rules stay auditable."""


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


def too_large(program: Program, config: MutationConfig) -> bool:
    """A function of more than `max_nodes` nodes: not scored (rules stay auditable)."""
    return any(sum(1 for _ in ir.walk(root)) > config.max_nodes
               for root in program.functions.values())


class Forge:
    """Random trees, mutations and crossover over the features' value scales."""

    def __init__(self, cand: Candidates, config: MutationConfig,
                 rng: np.random.Generator) -> None:
        self.rng = rng
        self.config = config
        self.features = tuple(RULE_FEATURES)
        self._cand = cand

    @cached_property
    def scale(self) -> dict[str, float]:
        """Each feature's median magnitude, where a random condition puts its threshold:
        computed on first use, since the reflection loop's mutations never need it (a
        median over every candidate row per feature, per repeat, on `paper`'s 507k rows)."""
        return {f: float(np.nanmedian(np.abs(self._cand.columns[f])) or 1.0)
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
