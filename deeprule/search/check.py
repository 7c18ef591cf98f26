"""The check a proposed rule passes before any fitting: degenerate rules are refused with a reason.

Small models write rules that parse and name only offered features yet cannot
do anything (`../shared/LOCAL_LLM.md`: Qwen2.5-Coder 1.5B, 4 of 10): a condition
with one truth value on every candidate row (`hist_units < hist_units`,
`customer_scale == 1`; a stock rule true everywhere excepted), `a if c else a`,
a stock rule or a price that reads no feature, and unit mix-ups (units sold
compared with a price, a price that is a count or a ratio, a price in the
wrong magnitude). Fitting such a rule
wastes an iteration; the reason instead goes back into the next prompt, the
way a parse error would.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from deeprule.rules import Program, evaluate, ir
from deeprule.rules.render import render_node
from deeprule.search.objective import RULE_FEATURE_UNITS, Candidates

Unit = tuple[tuple[str, int], ...] | None
"""Base units with exponents, e.g. (("money", 1),); () = dimensionless; None = a bare number,
which takes whatever unit its context needs."""
DIMENSIONLESS: Unit = ()
_SAME_UNIT = ("+", "-", "min", "max")


@dataclass(frozen=True)
class CheckConfig:
    max_price_ratio: float = 4.0
    """Refuse a price whose median over the rows is more than this many times the reference
    price, or less than its inverse: a price in cents, per pack, or a count."""


@dataclass(frozen=True)
class RowContext:
    """What the check needs about the candidate rows."""

    columns: Mapping[str, np.ndarray]
    units: Mapping[str, str]
    """Feature -> base unit name (`money`, `units`; "" = dimensionless)."""
    reference_price: np.ndarray
    """What a sensible price is near (the usual price of each row)."""


def row_context(cand: Candidates) -> RowContext:
    """The search's candidate rows, its feature units and the usual price as reference."""
    return RowContext(cand.columns, RULE_FEATURE_UNITS, cand.columns["usual_price"])


def rule_problems(program: Program, rows: RowContext,
                  config: CheckConfig = CheckConfig()) -> list[str]:
    """Why `program` is degenerate on these rows; empty = it may be fitted."""
    problems = _constant_functions(program)
    problems += _unit_problems(program, rows.units)
    problems += _fixed_conditions(program, rows.columns)
    problems += _identical_branches(program, rows.columns)
    if not problems:
        problems += _price_magnitude(program, rows, config)
    return list(dict.fromkeys(problems))


def _constant_functions(program: Program) -> list[str]:
    return [f"{name}(row) reads no feature: it gives every row the same answer"
            for name, root in program.functions.items() if not ir.feature_names(root)]


def _compares(program: Program) -> list[ir.Compare]:
    seen = [n for root in program.functions.values() for n in ir.walk(root)
            if isinstance(n, ir.Compare)]
    return list(dict.fromkeys(seen))


def _fixed_conditions(program: Program, columns: Mapping[str, np.ndarray]) -> list[str]:
    """Conditions with one truth value on every row: a dead branch, or a stock rule that
    stocks nothing. A stock rule true on every row is allowed: "stock every candidate"
    is a plan (the usual start), however it is written."""
    problems = []
    stock_root = program.functions.get("stock")
    for node in _compares(program):
        if not ir.feature_names(node):
            continue  # already reported as constant where it matters
        values = np.asarray(evaluate(node, columns, program.constants), dtype=bool)
        if node is stock_root and values.all():
            continue
        if values.all() or not values.any():
            truth = "true" if values.all() else "false"
            problems.append(f"condition `{render_node(node, program.constants)}` is {truth} "
                            f"on all {len(values):,} candidate rows{_ranges(node, columns)}")
    return problems


def _ranges(node: ir.Node, columns: Mapping[str, np.ndarray]) -> str:
    """Where the condition's features actually lie, so the next proposal can pick a threshold."""
    parts = [f"{name} runs from {np.min(columns[name]):.3g} to {np.max(columns[name]):.3g}"
             for name in sorted(ir.feature_names(node)) if len(columns[name])]
    return f" ({'; '.join(parts)})" if parts else ""


def _identical_branches(program: Program, columns: Mapping[str, np.ndarray]) -> list[str]:
    problems = []
    for root in program.functions.values():
        for node in ir.walk(root):
            if not isinstance(node, ir.Where):
                continue
            then = np.asarray(evaluate(node.then, columns, program.constants), dtype=float)
            other = np.asarray(evaluate(node.otherwise, columns, program.constants),
                               dtype=float)
            if np.allclose(then, other, equal_nan=True):
                problems.append(f"both branches of `{render_node(node, program.constants)}` "
                                "give the same value: the condition changes nothing")
    return problems


def _price_magnitude(program: Program, rows: RowContext, config: CheckConfig) -> list[str]:
    if "price" not in program.functions or not len(rows.reference_price):
        return []
    price = np.asarray(evaluate(program["price"], rows.columns, program.constants), dtype=float)
    ratio = np.median(price / np.maximum(rows.reference_price, 1e-9))
    if 1 / config.max_price_ratio <= ratio <= config.max_price_ratio:
        return []
    return [f"price(row) is {ratio:.3g} times the usual price (median over the rows): "
            "a price in the wrong unit or scale"]


def _unit_problems(program: Program, units: Mapping[str, str]) -> list[str]:
    problems: list[str] = []
    for name, root in program.functions.items():
        unit = _unit(root, units, problems, program.constants)
        if name == "price" and unit is not None and unit != (("money", 1),):
            problems.append(f"price(row) is in {_unit_text(unit)}, not money: "
                            f"`{render_node(root, program.constants)}`")
    return problems


def _unit(node: ir.Node, units: Mapping[str, str], problems: list[str],
          params: tuple[float, ...]) -> Unit:
    """The node's unit (None = a bare number); mix-ups are appended to `problems`."""
    def sub(child: ir.Node) -> Unit:
        return _unit(child, units, problems, params)

    if isinstance(node, ir.Feature):
        base = units.get(node.name, "")
        return ((base, 1),) if base else DIMENSIONLESS
    if isinstance(node, ir.Const | ir.Flag):
        return None
    if isinstance(node, ir.BinOp) and node.op in ("*", "/"):
        return _product(sub(node.left), sub(node.right), -1 if node.op == "/" else 1)
    if isinstance(node, ir.Call) and node.func in ("log", "exp", "sigmoid"):
        for arg in node.args:
            sub(arg)
        return DIMENSIONLESS
    if isinstance(node, ir.Call) and node.func == "abs":
        return sub(node.args[0])
    if isinstance(node, ir.Where):
        sub(node.cond)
        return _same(node, [sub(node.then), sub(node.otherwise)], problems, params)
    if isinstance(node, ir.Compare) or (isinstance(node, ir.BinOp) and node.op in _SAME_UNIT):
        unit = _same(node, [sub(node.left), sub(node.right)], problems, params)
        return DIMENSIONLESS if isinstance(node, ir.Compare) else unit
    if isinstance(node, ir.Call) and node.func in _SAME_UNIT:
        return _same(node, [sub(a) for a in node.args], problems, params)
    for child in node.children():  # **, sqrt, clip, logic, not: checked inside, unit unknown
        sub(child)
    return None


def _product(left: Unit, right: Unit, sign: int) -> Unit:
    if left is None and right is None:
        return None
    exponents: dict[str, int] = dict(left or ())
    for base, power in right or ():
        exponents[base] = exponents.get(base, 0) + sign * power
    return tuple(sorted((b, p) for b, p in exponents.items() if p))


def _same(node: ir.Node, found: list[Unit], problems: list[str],
          params: tuple[float, ...]) -> Unit:
    known = list(dict.fromkeys(u for u in found if u is not None))
    if len(known) > 1:
        problems.append(f"`{render_node(node, params)}` mixes "
                        f"{' with '.join(_unit_text(u) for u in known)}")
    return known[0] if known else None


def _unit_text(unit: Unit) -> str:
    if not unit:
        return "a plain ratio"
    return " x ".join(base if power == 1 else f"{base}^{power}" for base, power in unit)
