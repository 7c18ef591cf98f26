"""IR -> canonical rule text: what an auditor reads and what the next LLM prompt quotes.

The output parses back to a program that computes the same values (tested),
with fitted constants written in place of the proposed ones when `params` is
given. Local names are not kept: they were substituted when the text was parsed.
"""

from __future__ import annotations

from collections.abc import Sequence

from deeprule.rules import ir

_PRECEDENCE = {"or": 1, "and": 2, "not": 3, "compare": 4, "+": 5, "-": 5, "*": 6, "/": 6,
               "neg": 7, "**": 8}
"""Python's binding strengths: parentheses only where the parse would differ."""


def _number(value: float) -> str:
    """The shortest text that parses back to exactly `value`: a stored rule re-scores to
    its recorded fitness (6 significant digits once turned 100000.5 into 100000)."""
    return repr(float(value))


def _wrap(text: str, strength: int, context: int) -> str:
    return f"({text})" if strength <= context else text


def _render(node: ir.Node, params: Sequence[float] | None, context: int) -> str:
    if isinstance(node, ir.Const):
        value = node.value if params is None else float(params[node.index])
        return _wrap(_number(value), _PRECEDENCE["neg"], context) if value < 0 else _number(value)
    if isinstance(node, ir.Flag):
        return str(node.value)
    if isinstance(node, ir.Feature):
        return f'row["{node.name}"]'
    if isinstance(node, ir.BinOp):
        strength = _PRECEDENCE[node.op]
        # ** is right-associative; the others are left-associative
        left_ctx, right_ctx = (strength, strength - 1) if node.op == "**" else (strength - 1,
                                                                                   strength)
        text = (f"{_render(node.left, params, left_ctx)} {node.op} "
                f"{_render(node.right, params, right_ctx)}")
        return _wrap(text, strength, context)
    if isinstance(node, ir.Unary):
        if node.op == "not":
            return _wrap(f"not {_render(node.operand, params, _PRECEDENCE['not'])}",
                         _PRECEDENCE["not"], context)
        return _wrap(f"-{_render(node.operand, params, _PRECEDENCE['neg'])}",
                     _PRECEDENCE["neg"], context)
    if isinstance(node, ir.Compare):
        strength = _PRECEDENCE["compare"]
        return _wrap(f"{_render(node.left, params, strength)} {node.op} "
                     f"{_render(node.right, params, strength)}", strength, context)
    if isinstance(node, ir.Logic):
        strength = _PRECEDENCE[node.op]
        text = f" {node.op} ".join(_render(a, params, strength) for a in node.args)
        return _wrap(text, strength, context)
    if isinstance(node, ir.Where):
        text = (f"{_render(node.then, params, 1)} if {_render(node.cond, params, 1)} "
                f"else {_render(node.otherwise, params, 0)}")
        return _wrap(text, 1, context)
    if isinstance(node, ir.Call):
        return f"{node.func}({', '.join(_render(a, params, 0) for a in node.args)})"
    raise TypeError(f"not a rule node: {node!r}")


def render_program(program: ir.Program, params: Sequence[float] | None = None) -> str:
    """`def stock(row): return ...` and `def price(row): return ...`, one expression each.

    Without `params`, the program's own constants (fitted ones, once replaced) are written.
    """
    params = program.constants if params is None else params
    return "\n\n".join(f"def {name}(row):\n    return {_render(root, params, 0)}"
                       for name, root in program.functions.items()) + "\n"


def render_node(node: ir.Node, params: Sequence[float] | None = None) -> str:
    """One expression or condition as rule text (quoted in check reasons and feedback)."""
    return _render(node, params, 0)
