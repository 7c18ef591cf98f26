"""What the restructure prompt shows: a rule's syntax tree and the loss gradient in its
constants (the paper's ∇_f L, and its decoupled search's "structure, then parameters").

When tuned constants leave the loss above ξ the structure is what is wrong; the LLM
sees the tree it would change and, per constant, how the loss moves with it. The
gradient is numeric (central differences, one pair of rule evaluations per constant);
it is 0 for a threshold that moves between two data points, which the prompt says.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from deeprule.rules import Program, ir

RELATIVE_STEP = 1e-3
"""Finite-difference step as a share of the constant (at least this much in absolute)."""


def syntax_tree(program: Program) -> str:
    """The IR as an indented tree, one node a line; constants show index and value."""
    lines: list[str] = []
    for name, root in program.functions.items():
        lines.append(f"{name}:")
        _tree_lines(root, program.constants, 1, lines)
    return "\n".join(lines)


def _tree_lines(node: ir.Node, params: Sequence[float], depth: int, lines: list[str]) -> None:
    lines.append("  " * depth + _label(node, params))
    for child in node.children():
        _tree_lines(child, params, depth + 1, lines)


def _label(node: ir.Node, params: Sequence[float]) -> str:
    if isinstance(node, ir.Const):
        return f"constant c{node.index} = {params[node.index]:.4g}"
    if isinstance(node, ir.Feature):
        return f"feature {node.name}"
    if isinstance(node, ir.Flag):
        return f"flag {node.value}"
    if isinstance(node, ir.Binary):
        return f"{type(node).__name__.lower()} {node.op}"
    if isinstance(node, ir.Where):
        return "if (condition, then, otherwise)"
    if isinstance(node, ir.Call):
        return f"call {node.func}"
    return f"{type(node).__name__.lower()} {getattr(node, 'op', '')}".strip()


def loss_gradient(program: Program, loss: Callable[[Program], float]) -> np.ndarray:
    """d loss / d constant, by central differences at the program's constants."""
    theta = np.asarray(program.constants, dtype=np.float64)
    gradient = np.zeros_like(theta)
    for i, value in enumerate(theta):
        step = RELATIVE_STEP * max(abs(value), 1.0)
        up, down = theta.copy(), theta.copy()
        up[i], down[i] = value + step, value - step
        gradient[i] = (loss(_with(program, up)) - loss(_with(program, down))) / (2 * step)
    return gradient


def _with(program: Program, theta: np.ndarray) -> Program:
    return Program(program.functions, tuple(float(v) for v in theta), program.corrections)


def gradient_lines(program: Program, gradient: np.ndarray) -> list[str]:
    """One prompt line per constant."""
    return [f"c{i} = {value:.4g}: d loss / d c{i} = {g:+.4g}"
            for i, (value, g) in enumerate(zip(program.constants, gradient, strict=True))]
