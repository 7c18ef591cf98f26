"""The rule IR: small immutable expression trees that an LLM's rule text is parsed into.

Nothing here runs text. A rule is data: `parse.parse_program` builds these
nodes from a whitelisted Python subset, `evaluate` runs them on whole columns,
`render` prints them back as canonical source for audit and for the next LLM
prompt. Every numeric literal is a `Const` with its own index, so the numeric
fitter can move the constants while the structure stays fixed (the paper's
structure / parameter decoupling).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, fields

ARITHMETIC = ("+", "-", "*", "/", "**")
COMPARISONS = ("<", "<=", ">", ">=", "==", "!=")
LOGIC = ("and", "or")
UNARY = ("-", "not")
FUNCTIONS: dict[str, tuple[int, int | None]] = {
    "abs": (1, 1), "log": (1, 1), "exp": (1, 1), "sqrt": (1, 1), "sigmoid": (1, 1),
    "min": (2, None), "max": (2, None), "clip": (3, 3),
}
"""Callable names and their (min, max) argument counts; None = any number."""


@dataclass(frozen=True)
class Node:
    """Base of every IR node."""

    def children(self) -> tuple[Node, ...]:
        out: list[Node] = []
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Node):
                out.append(value)
            elif isinstance(value, tuple):
                out.extend(v for v in value if isinstance(v, Node))
        return tuple(out)


@dataclass(frozen=True)
class Const(Node):
    """A numeric literal; `index` is its position in the program's parameter vector."""

    value: float
    index: int


@dataclass(frozen=True)
class Flag(Node):
    """A boolean literal (True / False): structure, never fitted."""

    value: bool


@dataclass(frozen=True)
class Feature(Node):
    """A column of the candidate rows, `row["name"]` or `row.name` in rule text."""

    name: str


@dataclass(frozen=True)
class Binary(Node):
    """Two operands and an operator symbol."""

    op: str
    left: Node
    right: Node


class BinOp(Binary):
    """Arithmetic: + - * / **."""


@dataclass(frozen=True)
class Unary(Node):
    op: str
    operand: Node


class Compare(Binary):
    """A comparison; its value is boolean."""


@dataclass(frozen=True)
class Logic(Node):
    op: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Where(Node):
    """`a if cond else b`, and `if` statements: both branches are computed, rows choose."""

    cond: Node
    then: Node
    otherwise: Node


@dataclass(frozen=True)
class Call(Node):
    func: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Program:
    """The parsed rule: an expression per defined function (`stock`, `price`)."""

    functions: dict[str, Node] = field(default_factory=dict)
    constants: tuple[float, ...] = ()
    corrections: tuple[tuple[str, str], ...] = ()
    """Near-miss feature names the parser read as known ones: (written, read as)."""

    def __getitem__(self, name: str) -> Node:
        return self.functions[name]

    def features(self) -> set[str]:
        return set().union(*(feature_names(root) for root in self.functions.values()))


def walk(node: Node) -> Iterator[Node]:
    """Every node of the tree, parents before children."""
    yield node
    for child in node.children():
        yield from walk(child)


def feature_names(node: Node) -> set[str]:
    """The columns an expression reads."""
    return {n.name for n in walk(node) if isinstance(n, Feature)}


def complexity(node: Node) -> int:
    """The paper's l(f): a node-weighted sum, operator nodes weight 2, leaves weight 1."""
    return sum(1 if not n.children() else 2 for n in walk(node))
