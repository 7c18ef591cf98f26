"""Rules as JSON trees: the schema an LLM answers in, and its translation to the IR.

Rule *text* suits a strong model; a small local model writes far better inside
a schema that only admits valid rules (`../shared/LOCAL_LLM.md`: bounded
depth, enums of feature names, numeric bounds, no free strings). The schema is
built per vocabulary and depth: level k nodes only contain level k-1 nodes, so
even greedy decoding cannot recurse forever, and every feature is an enum
value. Both backends (local constrained decoding, instructor for OpenAI-
compatible servers) return an instance, which `to_program` turns into the same
IR the text parser produces, with the same size limits.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, create_model

from deeprule.rules import ir
from deeprule.rules.parse import check_size

FORBID = ConfigDict(extra="forbid")
MAX_ABS_CONSTANT = 1_000.0
OPERATORS = ("+", "-", "*", "/", "min", "max")
FUNCTIONS = ("log", "exp", "sqrt", "abs", "sigmoid")
COMPARATORS = ("<", "<=", ">", ">=")
DEFAULT_DEPTH = 3


def _kind(name: str) -> Any:
    return (Literal[name], ...)


@cache
def rule_schema(features: tuple[str, ...], depth: int = DEFAULT_DEPTH) -> type[BaseModel]:
    """`{"stock": condition, "price": expression}` over `features`, nested at most `depth`."""
    if not features:
        raise ValueError("a rule schema needs at least one feature name")
    leaves = [
        create_model("Feature", __config__=FORBID, kind=_kind("feature"),
                     name=(Literal[features], ...)),
        create_model("Number", __config__=FORBID, kind=_kind("number"),
                     value=(Annotated[float, Field(ge=-MAX_ABS_CONSTANT,
                                                   le=MAX_ABS_CONSTANT)], ...)),
    ]
    expr: Any = Union[tuple(leaves)]  # noqa: UP007 - a runtime-built union
    for level in range(1, depth + 1):
        condition = _condition(expr, level)
        expr = Union[(*leaves,  # noqa: UP007
                      create_model(f"Operation{level}", __config__=FORBID, kind=_kind("op"),
                                   op=(Literal[OPERATORS], ...), left=(expr, ...),
                                   right=(expr, ...)),
                      create_model(f"Function{level}", __config__=FORBID, kind=_kind("call"),
                                   func=(Literal[FUNCTIONS], ...), arg=(expr, ...)),
                      create_model(f"Choice{level}", __config__=FORBID, kind=_kind("if"),
                                   test=(condition, ...), then=(expr, ...),
                                   otherwise=(expr, ...)))]
    return create_model("RuleProposal", __config__=FORBID,
                        stock=(_condition(expr, depth + 1), ...), price=(expr, ...))


def _condition(expr: Any, level: int) -> type[BaseModel]:
    return create_model(f"Condition{level}", __config__=FORBID, left=(expr, ...),
                        cmp=(Literal[COMPARATORS], ...), right=(expr, ...))


def to_program(proposal: BaseModel) -> ir.Program:
    """The IR of a validated proposal; constants indexed in reading order."""
    constants: list[float] = []
    functions = {"stock": _condition_ir(proposal.stock, constants),
                 "price": _expr_ir(proposal.price, constants)}
    for name, root in functions.items():
        check_size(root, name)
    return ir.Program(functions, tuple(constants))


def _condition_ir(node: BaseModel, constants: list[float]) -> ir.Node:
    left = _expr_ir(node.left, constants)
    return ir.Compare(node.cmp, left, _expr_ir(node.right, constants))


def _expr_ir(node: BaseModel, constants: list[float]) -> ir.Node:
    kind = node.kind
    if kind == "feature":
        return ir.Feature(node.name)
    if kind == "number":
        constants.append(float(node.value))
        return ir.Const(float(node.value), len(constants) - 1)
    if kind == "call":
        return ir.Call(node.func, (_expr_ir(node.arg, constants),))
    if kind == "if":
        test = _condition_ir(node.test, constants)
        return ir.Where(test, _expr_ir(node.then, constants), _expr_ir(node.otherwise, constants))
    left = _expr_ir(node.left, constants)
    right = _expr_ir(node.right, constants)
    if node.op in ("min", "max"):
        return ir.Call(node.op, (left, right))
    return ir.BinOp(node.op, left, right)


def to_tree(program: ir.Program) -> dict[str, Any]:
    """The proposal JSON of `program` (inverse of `to_program`), quoted in prompts as the
    answer's form; ValueError for rules outside the schema (and/or, not, ==, clip, ...)."""
    params = program.constants
    return {"stock": _condition_tree(program["stock"], params),
            "price": _expr_tree(program["price"], params)}


def _condition_tree(node: ir.Node, params: tuple[float, ...]) -> dict[str, Any]:
    if not isinstance(node, ir.Compare) or node.op not in COMPARATORS:
        raise ValueError(f"not a schema condition: {node!r}")
    return {"left": _expr_tree(node.left, params), "cmp": node.op,
            "right": _expr_tree(node.right, params)}


def _expr_tree(node: ir.Node, params: tuple[float, ...]) -> dict[str, Any]:
    if isinstance(node, ir.Feature):
        return {"kind": "feature", "name": node.name}
    if isinstance(node, ir.Const):
        return {"kind": "number", "value": float(params[node.index])}
    if isinstance(node, ir.BinOp) and node.op in OPERATORS:
        return {"kind": "op", "op": node.op, "left": _expr_tree(node.left, params),
                "right": _expr_tree(node.right, params)}
    if isinstance(node, ir.Call) and node.func in ("min", "max") and len(node.args) == 2:
        return {"kind": "op", "op": node.func, "left": _expr_tree(node.args[0], params),
                "right": _expr_tree(node.args[1], params)}
    if isinstance(node, ir.Call) and node.func in FUNCTIONS:
        return {"kind": "call", "func": node.func, "arg": _expr_tree(node.args[0], params)}
    if isinstance(node, ir.Where):
        return {"kind": "if", "test": _condition_tree(node.cond, params),
                "then": _expr_tree(node.then, params),
                "otherwise": _expr_tree(node.otherwise, params)}
    raise ValueError(f"not a schema expression: {node!r}")
