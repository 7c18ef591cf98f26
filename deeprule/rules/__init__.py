"""The safe rule language: LLM rule text -> IR (parsed, never executed) -> vectorized numpy.

`parse_program` reads `def stock(row)` / `def price(row)` text, `decide` runs
it on candidate rows, `render_program` prints it back for audit, and
`fit_constants` tunes its numbers with the structure fixed.
"""

from deeprule.rules.fit import ConstantFit, fit_constants
from deeprule.rules.interpret import Decisions, decide, evaluate
from deeprule.rules.ir import Program, complexity
from deeprule.rules.parse import RuleSyntaxError, parse_program
from deeprule.rules.render import render_program

__all__ = [
    "ConstantFit", "Decisions", "Program", "RuleSyntaxError", "complexity", "decide",
    "evaluate", "fit_constants", "parse_program", "render_program",
]
