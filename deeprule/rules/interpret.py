"""Run a parsed rule on whole columns: numpy, one array operation per IR node.

Operators are protected, as in the paper's symbolic-regression baselines, so
that any structure an LLM proposes yields finite numbers on every row instead
of an exception halfway through a search: division by |x| < 1e-9 gives 0, log
and sqrt act on |x| (log of ~0 gives 0), exp and powers are clipped before
they overflow. Booleans are 1.0 / 0.0 in arithmetic, and any number is "true"
when it is > 0 (the paper's h(x) > tau with tau = 0).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import reduce

import numpy as np

from deeprule.rules import ir

EPS = 1e-9
EXP_CLIP = 50.0
"""exp(50) ~ 5e21: large enough for any price or volume, far from float overflow."""

Columns = Mapping[str, np.ndarray]
CHUNK_ROWS = 32_768
"""Rows evaluated at a time: a node's temporaries (256 KiB each) stay in the CPU cache
instead of streaming 8 MiB arrays through memory once per node."""


def _as_float(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float64) if x.dtype == np.bool_ else x


def _as_bool(x: np.ndarray) -> np.ndarray:
    return x if x.dtype == np.bool_ else x > 0


def _divide(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if b.ndim == 0:  # a constant divisor: one scalar test instead of a mask per row
        return a / b if abs(float(b)) > EPS else np.zeros_like(a / 1.0)
    a, b = np.broadcast_arrays(a, b)
    return np.divide(a, b, out=np.zeros(a.shape), where=np.abs(b) > EPS)


def _power(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|a| ** b, computed as exp(b log|a|) clipped, so neither overflow nor NaN."""
    logged = np.log(np.maximum(np.abs(a), EPS))
    return np.where(np.abs(a) > EPS, np.exp(np.clip(b * logged, -EXP_CLIP, EXP_CLIP)),
                    np.where(b > 0, 0.0, 1.0))


def _log(x: np.ndarray) -> np.ndarray:
    magnitude = np.abs(x)
    return np.where(magnitude > EPS, np.log(np.maximum(magnitude, EPS)), 0.0)


_ARITHMETIC = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": _divide, "**": _power}
_COMPARE = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal,
            "==": np.equal, "!=": np.not_equal}
_CALLS = {
    "abs": np.abs, "log": _log, "exp": lambda x: np.exp(np.clip(x, -EXP_CLIP, EXP_CLIP)),
    "sqrt": lambda x: np.sqrt(np.abs(x)),
    "sigmoid": lambda x: 0.5 * (1.0 + np.tanh(0.5 * np.clip(x, -EXP_CLIP, EXP_CLIP))),
    "min": lambda *xs: reduce(np.minimum, xs),  # pairwise: no stacked copy of the columns
    "max": lambda *xs: reduce(np.maximum, xs),
    "clip": lambda x, lo, hi: np.minimum(np.maximum(x, lo), hi),
}


@dataclass
class _Evaluator:
    columns: Columns
    params: Sequence[float] | None
    memo: dict[int, np.ndarray] = field(default_factory=dict)
    """Results by node identity: a local name the parser substituted in several places is
    one shared node, computed once per chunk."""

    def run(self, node: ir.Node) -> np.ndarray:
        key = id(node)
        if key not in self.memo:
            self.memo[key] = self._compute(node)
        return self.memo[key]

    def _compute(self, node: ir.Node) -> np.ndarray:
        if isinstance(node, ir.Const):  # a 0-d array: numpy broadcasts it, no column built
            value = node.value if self.params is None else self.params[node.index]
            return np.asarray(float(value))
        if isinstance(node, ir.Flag):
            return np.asarray(node.value)
        if isinstance(node, ir.Feature):
            return np.asarray(self.columns[node.name], dtype=np.float64)
        if isinstance(node, ir.BinOp):
            return _ARITHMETIC[node.op](_as_float(self.run(node.left)),
                                        _as_float(self.run(node.right)))
        if isinstance(node, ir.Unary):
            value = self.run(node.operand)
            return ~_as_bool(value) if node.op == "not" else -_as_float(value)
        if isinstance(node, ir.Compare):
            return _COMPARE[node.op](_as_float(self.run(node.left)),
                                     _as_float(self.run(node.right)))
        if isinstance(node, ir.Logic):
            combine = np.logical_and if node.op == "and" else np.logical_or
            return reduce(combine, (_as_bool(self.run(a)) for a in node.args))
        if isinstance(node, ir.Where):
            then, otherwise = self.run(node.then), self.run(node.otherwise)
            if then.dtype != otherwise.dtype:
                then, otherwise = _as_float(then), _as_float(otherwise)
            return np.where(_as_bool(self.run(node.cond)), then, otherwise)
        if isinstance(node, ir.Call):
            return _CALLS[node.func](*(_as_float(self.run(a)) for a in node.args))
        raise TypeError(f"not a rule node: {node!r}")


Finish = Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]


def evaluate(node: ir.Node, columns: Columns, params: Sequence[float] | None = None) -> np.ndarray:
    """One value per row (bool or float64). `params` replaces the program's constants."""
    return _chunked({"value": node}, columns, params, lambda values: values)["value"]


def _chunked(nodes: Mapping[str, ir.Node], columns: Columns, params: Sequence[float] | None,
             finish: Finish) -> dict[str, np.ndarray]:
    """`finish` of the nodes' values on every row, CHUNK_ROWS rows at a time, written into
    one output array per name (no concatenation; shared subtrees computed once a chunk)."""
    missing = sorted({n for node in nodes.values() for n in ir.feature_names(node)}
                     - set(columns))
    if missing:
        raise KeyError(f"rule needs columns the candidate rows lack: {', '.join(missing)}")
    rows = len(next(iter(columns.values()))) if columns else 1
    out: dict[str, np.ndarray] = {}
    for start in range(0, max(rows, 1), CHUNK_ROWS):  # an empty frame: one empty chunk
        stop = min(start + CHUNK_ROWS, rows)
        chunk = {k: v[start:stop] for k, v in columns.items()} if rows > CHUNK_ROWS else columns
        evaluator = _Evaluator(chunk, params)
        with np.errstate(all="ignore"):
            values = finish({name: evaluator.run(node) for name, node in nodes.items()})
        for name, value in values.items():
            if name not in out:
                out[name] = np.empty(rows, dtype=value.dtype)
            out[name][start:stop] = value  # a 0-d value broadcasts over the chunk
    return out


@dataclass(frozen=True)
class Decisions:
    """What a rule program says for each candidate row."""

    stock: np.ndarray
    """bool: recommend stocking this SKU for this customer."""
    price: np.ndarray
    """float64: the recommended unit price (NaN where not stocked)."""
    invalid_price: np.ndarray
    """bool: stocked rows whose price came out non-finite or <= 0 (counted, never hidden)."""


def decide(program: ir.Program, columns: Columns,
           params: Sequence[float] | None = None) -> Decisions:
    """(d, p) per row: stock where stock(row) holds, at price(row).

    Without `params`, the program's own constants (fitted ones, once replaced) are used.
    """
    params = program.constants if params is None else params
    values = _chunked({"stock": program["stock"], "price": program["price"]}, columns, params,
                      _decisions)
    return Decisions(values["stock"], values["price"], values["invalid"])


def _decisions(values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    stock, price = _as_bool(values["stock"]), _as_float(values["price"])
    invalid = stock & ~(np.isfinite(price) & (price > 0))
    return {"stock": stock, "price": np.where(stock, price, np.nan), "invalid": invalid}
