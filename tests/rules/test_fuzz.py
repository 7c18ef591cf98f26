"""Fuzzing the rule language: random and hostile text is an IR or a clean refusal, never a crash
and never run; random valid rules evaluate without raising.

The suite runs a bounded number of cases (profile `default`); the documented longer run:

    HYPOTHESIS_PROFILE=long python -m pytest tests/rules/test_fuzz.py -p no:cacheprovider

(10,000 cases per test, see docs/rules.md for its measured time).
"""

import contextlib
import os
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deeprule.rules import RuleSyntaxError, decide, parse_program, render_program
from deeprule.rules.ir import FUNCTIONS

settings.register_profile("default", max_examples=150, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=10_000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

FEATURES = ("cost", "list_price", "usual_price", "hist_units", "elasticity")
MARKER = Path(os.environ.get("TMPDIR", "/tmp")) / "deeprule-fuzz-ran"
TOKENS = (
    "def", "stock", "price", "(row)", "(row, x)", ":", "\n", "\n    ", "\n        ", "return",
    "if", "elif", "else", "and", "or", "not", "row", ".", "row.cost", "row.list_price",
    "row['usual_price']", 'row["hist_units"]', "row.elasticity", "row.cots", "row.secret",
    "(", ")", "[", "]", ",", "+", "-", "*", "/", "**", "//", "%", "<", "<=", ">", "==", "!=",
    "=", ":=", "x", "y", "0", "1.5", "-2", "1e308", "1e-308", "True", "False", "None", "nan",
    "inf", *FUNCTIONS, "lambda", "for", "in", "while", "import", "os", "__import__",
    "__class__", "eval", "exec", "open", f"'{MARKER}'", "'w'", "getattr", "yield", "await",
    "async", "class", "global", "del", "with", "try", "except", "pass", "\\", "#", "'''", "\x00",
    "@", "{", "}", "...", ";",
)


def _parse(text: str) -> None:
    """Parse `text`: an IR or a RuleSyntaxError (anything else propagates and fails)."""
    with contextlib.suppress(RuleSyntaxError):
        parse_program(text, FEATURES)


@given(st.text(max_size=600))
def test_random_text_is_an_ir_or_a_clean_refusal(text: str) -> None:
    _parse(text)


@given(st.lists(st.sampled_from(TOKENS), max_size=80).map(" ".join))
def test_token_soup_is_an_ir_or_a_clean_refusal_and_never_runs(text: str) -> None:
    _parse(text)
    _parse("def stock(row):\n    return " + text + "\ndef price(row):\n    return 1.0\n")
    assert not MARKER.exists()


def _expressions() -> st.SearchStrategy[str]:
    leaves = st.one_of(st.sampled_from([f"row.{f}" for f in FEATURES]),
                       st.floats(-1e6, 1e6, allow_nan=False).map(repr))
    unary = sorted(name for name, (low, high) in FUNCTIONS.items() if low == high == 1)

    def grow(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "**"]), inner)
            .map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
            st.tuples(st.sampled_from(unary), inner).map(lambda t: f"{t[0]}({t[1]})"),
            st.tuples(inner, inner).map(lambda t: f"max({t[0]}, {t[1]})"),
            st.tuples(inner, inner, inner).map(lambda t: f"({t[0]} if {t[1]} > {t[2]} else 0.0)"),
        )
    return st.recursive(leaves, grow, max_leaves=12)


@given(_expressions(), _expressions(), _expressions())
def test_random_valid_rules_evaluate_and_render_back(cond: str, left: str, price: str) -> None:
    text = f"def stock(row):\n    return {cond} > {left}\n\ndef price(row):\n    return {price}\n"
    try:
        program = parse_program(text, FEATURES)
    except RuleSyntaxError as err:  # only the documented size limits may refuse a valid rule
        assert "too large" in str(err) or "nested too deeply" in str(err)
        return
    rng = np.random.default_rng(0)
    columns = {f: rng.normal(0, 100, 64) for f in FEATURES}
    with np.errstate(all="ignore"):
        decisions = decide(program, columns)
        again = decide(parse_program(render_program(program), FEATURES), columns)
    assert decisions.stock.dtype == bool and decisions.price.shape == (64,)
    np.testing.assert_array_equal(decisions.stock, again.stock)
    np.testing.assert_allclose(decisions.price, again.price, rtol=1e-9, equal_nan=True)
