"""The rule language as a Lark grammar (llguidance's dialect), for rule text a model writes.

A local model writing rule *text* — the paper's `def stock(row): return ...` form — is
held by llguidance to a grammar built here from the vocabulary: features only as
`row.name` or `row["name"]` of known names, numbers, + - * /, the functions log exp sqrt
abs sigmoid and two-argument min/max, the comparators < <= > >= == !=, and / or / not,
`a if c else b`, parentheses; one `return` per function. Spacing is fixed (`a * b`,
four-space indent) so no token is spent on layout. `**`, `clip`, booleans and local
names, which the parser also reads, are left out: a small model does not need them and
each widens what the size bounds must cover.

The grammar is finite: every rule refers only to rules of a smaller depth budget d (the
IR depth it may produce), so the longest text, the most IR nodes and the deepest tree it
admits are computed from the grammar itself (`Grammar.bounds`) and checked against the
parser's limits when it is built. Every text it admits therefore parses
(tests/rules/test_grammar.py samples it through llguidance).
"""

from __future__ import annotations

import json
import keyword
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache

from deeprule.rules.parse import MAX_DEPTH, MAX_NODES, MAX_SOURCE_CHARS

REFLECTION_LINE = r"[^\x00-\x1f\x7f]{1,200}"
"""The reflection comment: one line, no control character (Python reads `\\r` as a line
break and refuses NUL), at most 200 characters."""
NUMBER = r"-?(0|[1-9][0-9]{0,3})(\.[0-9]{1,4})?"
"""Numbers as written: no leading zero (a Python syntax error), at most 4+4 digits; the
sign is part of the literal, which the parser folds into one constant."""
FUNCTIONS = ("log", "exp", "sqrt", "abs", "sigmoid")
PAIRS = ("min", "max")
ADDITIVE = (" + ", " - ")
MULTIPLICATIVE = (" * ", " / ")
COMPARATORS = (" < ", " <= ", " > ", " >= ", " == ", " != ")


@dataclass(frozen=True)
class Ref:
    """A reference to another rule of the grammar."""

    name: str


@dataclass(frozen=True)
class Pattern:
    """A regular expression (valid in Rust's and Python's dialects) and its longest match."""

    regex: str
    max_chars: int


Symbol = str | Ref | Pattern
"""A literal text, a rule or a pattern."""


@dataclass(frozen=True)
class Alt:
    """One alternative of a rule; `node`: it makes one IR node (bounds count it)."""

    symbols: tuple[Symbol, ...]
    node: bool = False


@dataclass(frozen=True)
class Bounds:
    """The most a rule admits: characters, IR nodes and IR depth."""

    chars: int
    nodes: int
    depth: int


@dataclass(frozen=True)
class Grammar:
    """Rules by name (`start` first); UPPERCASE rules are lexemes (literals and patterns)."""

    rules: dict[str, tuple[Alt, ...]]

    def lark(self) -> str:
        """The grammar in llguidance's Lark dialect; `reflection` and `rule` are captures."""
        lines = []
        for name, alts in self.rules.items():
            head = f"{name}[capture]" if name in ("reflection", "rule") else name
            body = " | ".join(" ".join(_lark_symbol(s) for s in alt.symbols) for alt in alts)
            lines.append(f"{head}: {body}")
        return "\n".join(lines) + "\n"

    def bounds(self, name: str) -> Bounds:
        """The longest text, most nodes and deepest tree rule `name` admits."""
        return _bounds(self, name, frozenset(), {})


def _lark_symbol(symbol: Symbol) -> str:
    if isinstance(symbol, Ref):
        return symbol.name
    if isinstance(symbol, Pattern):
        return f"/{symbol.regex}/"
    return json.dumps(symbol)


def _bounds(grammar: Grammar, name: str, seen: frozenset[str],
            known: dict[str, Bounds]) -> Bounds:
    """Bounds of `name` (`seen`: the rules above it, to refuse recursion; `known`: memo)."""
    if name in seen:
        raise ValueError(f"grammar rule {name!r} is recursive: its size has no bound")
    if name not in known:
        best = Bounds(0, 0, 0)
        for alt in grammar.rules[name]:
            parts = [_symbol_bounds(grammar, s, seen | {name}, known) for s in alt.symbols]
            best = Bounds(max(best.chars, sum(p.chars for p in parts)),
                          max(best.nodes, alt.node + sum(p.nodes for p in parts)),
                          max(best.depth, alt.node + max((p.depth for p in parts), default=0)))
        known[name] = best
    return known[name]


def _symbol_bounds(grammar: Grammar, symbol: Symbol, seen: frozenset[str],
                   known: dict[str, Bounds]) -> Bounds:
    if isinstance(symbol, Ref):
        return _bounds(grammar, symbol.name, seen, known)
    if isinstance(symbol, Pattern):
        return Bounds(symbol.max_chars, 0, 0)
    return Bounds(len(symbol), 0, 0)


class _Builder:
    """Rules by depth budget: `sum3` is an arithmetic expression of IR depth <= 3."""

    def __init__(self) -> None:
        self.rules: dict[str, tuple[Alt, ...]] = {}

    def add(self, name: str, *alts: Alt) -> None:
        """Define `name` from the alternatives whose references exist (at a small budget
        some forms do not); nothing if none is left."""
        usable = tuple(a for a in alts
                       if all(s.name in self.rules for s in a.symbols if isinstance(s, Ref)))
        if usable:
            self.rules[name] = usable

    def level(self, d: int) -> None:
        """Every rule of budget `d` (those of `d - 1` exist)."""
        below = d - 1
        self.add(f"add{d}", Alt((Ref(f"sum{below}"), Ref("ADD"), Ref(f"prod{below}")), True))
        self.add(f"mul{d}", Alt((Ref(f"prod{below}"), Ref("MUL"), Ref(f"unit{below}")), True))
        self.add(f"where{d}", Alt((Ref(f"sum{below}"), " if ", Ref(f"cond{below}"), " else ",
                                   Ref(f"expr{below}")), True))
        self.add(f"unit{d}", Alt((Ref("FEATURE"),), True), Alt((Ref("NUMBER"),), True),
                 *(Alt(("(", Ref(f"{form}{d}"), ")")) for form in ("add", "mul", "where")),
                 Alt((Ref("FUNCTION"), "(", Ref(f"expr{below}"), ")"), True),
                 Alt((Ref("PAIR"), "(", Ref(f"expr{below}"), ", ", Ref(f"expr{below}"), ")"),
                     True))
        self.add(f"prod{d}", Alt((Ref(f"unit{d}"),)), Alt((Ref(f"mul{d}"),)))
        self.add(f"sum{d}", Alt((Ref(f"prod{d}"),)), Alt((Ref(f"add{d}"),)))
        self.add(f"expr{d}", Alt((Ref(f"sum{d}"),)), Alt((Ref(f"where{d}"),)))
        self.add(f"cmp{d}", Alt((Ref(f"sum{below}"), Ref("CMP"), Ref(f"sum{below}")), True))
        self.add(f"not{d}", Alt(("not ", Ref(f"cmp{below}")), True))
        self.add(f"or{d}", Alt((Ref(f"cond{below}"), " or ", Ref(f"conj{below}")), True))
        self.add(f"and{d}", Alt((Ref(f"conj{below}"), " and ", Ref(f"neg{below}")), True))
        self.add(f"neg{d}", Alt((Ref(f"cmp{d}"),)), Alt((Ref(f"not{d}"),)),
                 Alt(("(", Ref(f"or{d}"), ")")))
        self.add(f"conj{d}", Alt((Ref(f"neg{d}"),)), Alt((Ref(f"and{d}"),)))
        self.add(f"cond{d}", Alt((Ref(f"conj{d}"),)), Alt((Ref(f"or{d}"),)))


def _choices(*texts: str) -> tuple[Alt, ...]:
    return tuple(Alt((t,)) for t in texts)


def feature_forms(name: str) -> tuple[str, ...]:
    """How rule text may read feature `name`: `row["name"]`, and `row.name` when the name
    is an identifier that is not a keyword."""
    if not name.isidentifier() or not name.isascii():
        raise ValueError(f"feature {name!r} is not an identifier: the rule grammar cannot "
                         "offer it")
    subscript = f'row["{name}"]'
    return (subscript,) if keyword.iskeyword(name) else (f"row.{name}", subscript)


@cache
def rule_grammar(features: tuple[str, ...], depth: int) -> Grammar:
    """The answer grammar: a reflection comment, then `stock` (a condition of IR depth
    <= depth + 1) and `price` (an expression of IR depth <= depth).

    ValueError when the vocabulary is empty, or when texts this deep could exceed the
    parser's limits (source length, nodes, depth): every admitted text must parse.
    """
    if not features or depth < 1:
        raise ValueError("a rule grammar needs a feature and a depth of at least 1")
    build = _Builder()
    build.rules |= {
        "start": (Alt(("# ", Ref("reflection"), "\n", Ref("rule"))),),
        "reflection": (Alt((Ref("REFLECTION"),)),),
        "rule": (Alt(("def stock(row):\n    return ", Ref(f"cond{depth + 1}"),
                      "\n\ndef price(row):\n    return ", Ref(f"expr{depth}"), "\n")),),
        "REFLECTION": (Alt((Pattern(REFLECTION_LINE, 200),)),),
        "FEATURE": _choices(*(form for name in features for form in feature_forms(name))),
        "NUMBER": (Alt((Pattern(NUMBER, 10),)),),
        "FUNCTION": _choices(*FUNCTIONS), "PAIR": _choices(*PAIRS),
        "ADD": _choices(*ADDITIVE), "MUL": _choices(*MULTIPLICATIVE),
        "CMP": _choices(*COMPARATORS),
    }
    for d in range(1, depth + 2):
        build.level(d)
    grammar = Grammar(build.rules)
    _check_limits(grammar, depth)
    return grammar


def _check_limits(grammar: Grammar, depth: int) -> None:
    functions = (grammar.bounds(f"cond{depth + 1}"), grammar.bounds(f"expr{depth}"))
    text = grammar.bounds("rule").chars
    if (text > MAX_SOURCE_CHARS or any(f.nodes > MAX_NODES or f.depth > MAX_DEPTH
                                       for f in functions)):
        raise ValueError(
            f"a rule grammar of depth {depth} admits {text} characters and "
            f"{max(f.nodes for f in functions)} nodes, depth {depth + 1}; the parser takes "
            f"{MAX_SOURCE_CHARS} characters, {MAX_NODES} nodes, depth {MAX_DEPTH}: "
            "use a smaller depth or shorter feature names")


def deepest_fitting(features: Sequence[str] | Iterable[str], wanted: int) -> int:
    """The largest depth up to `wanted` whose grammar stays within the parser's limits."""
    names = tuple(features)
    for depth in range(wanted, 0, -1):
        try:
            rule_grammar(names, depth)
        except ValueError:
            continue
        return depth
    raise ValueError(f"no rule grammar over {len(names)} features fits the parser's limits")
