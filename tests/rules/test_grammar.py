"""The rule grammar: every text it admits parses within its computed bounds; what the parser
refuses (or only reads after correcting it) the grammar refuses.

Texts are drawn two ways: from the grammar's own rules (`_from_rules`), and by walking
llguidance's matcher byte by byte over what it allows next (`_from_matcher`) — the Lark
text the local model is actually held to.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deeprule.rules import parse_program
from deeprule.rules.grammar import (
    Alt,
    Grammar,
    Pattern,
    Ref,
    deepest_fitting,
    feature_forms,
    rule_grammar,
)
from deeprule.rules.ir import walk
from deeprule.rules.parse import MAX_SOURCE_CHARS, check_size
from deeprule.search.objective import RULE_FEATURES
from tests.helpers.grammar import EOS, accepts, matcher

FEATURES = tuple(RULE_FEATURES)
DEPTH = 4
GRAMMAR = rule_grammar(FEATURES, DEPTH)
LARK = GRAMMAR.lark()
CASES = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))


def _from_rules(data: st.DataObject, grammar: Grammar, symbol: object) -> str:
    if isinstance(symbol, str):
        return symbol
    if isinstance(symbol, Pattern):
        return data.draw(st.from_regex(symbol.regex, fullmatch=True))
    alts = grammar.rules[symbol.name]
    alt = alts[data.draw(st.integers(0, len(alts) - 1))]
    return "".join(_from_rules(data, grammar, s) for s in alt.symbols)


def _depth(node) -> int:
    return 1 + max((_depth(c) for c in node.children()), default=0)


def _parses_within_bounds(text: str, grammar: Grammar, depth: int) -> None:
    reflection, _, rule = text.partition("\n")
    assert reflection.startswith("# ") and len(rule) <= MAX_SOURCE_CHARS
    program = parse_program(rule, FEATURES)
    assert program.corrections == () and program.features() <= set(FEATURES)
    for name, bound in (("stock", grammar.bounds(f"cond{depth + 1}")),
                        ("price", grammar.bounds(f"expr{depth}"))):
        root = check_size(program[name], name)
        assert sum(1 for _ in walk(root)) <= bound.nodes and _depth(root) <= bound.depth


@CASES
@given(st.data())
def test_every_text_drawn_from_the_rules_is_admitted_and_parses(data: st.DataObject) -> None:
    text = _from_rules(data, GRAMMAR, Ref("start"))
    assert accepts(LARK, text), text
    _parses_within_bounds(text, GRAMMAR, DEPTH)


def _from_matcher(data: st.DataObject, lark: str, limit: int) -> str:
    """A text the matcher admits: forced bytes taken, else a printable ASCII byte (or the end)
    among those it allows."""
    m, out = matcher(lark), bytearray()
    while not m.is_stopped() and len(out) < limit:
        forced = m.compute_ff_bytes()
        if forced:
            assert m.consume_tokens(list(forced))
            out += forced
            continue
        mask = np.unpackbits(np.frombuffer(m.compute_bitmask(), dtype=np.uint8),
                             bitorder="little")
        allowed = [int(b) for b in np.flatnonzero(mask) if b == EOS or b == 10 or 32 <= b < 127]
        choice = data.draw(st.sampled_from(allowed))
        if choice == EOS:
            break
        assert m.consume_token(choice)
        out.append(choice)
    assert m.is_accepting(), bytes(out)
    return out.decode()


@CASES
@given(st.data())
def test_every_text_the_matcher_lets_through_parses(data: st.DataObject) -> None:
    grammar = rule_grammar(FEATURES, 2)
    text = _from_matcher(data, grammar.lark(), grammar.bounds("start").chars)
    _parses_within_bounds(text, grammar, 2)


RULE = ("# the usual price where it sold, more for the price-insensitive\n"
        "def stock(row):\n    return {stock}\n\ndef price(row):\n    return {price}\n")
STOCK, PRICE = "row.hist_units > 0.5", 'row["usual_price"] * 1.05'


@pytest.mark.parametrize(("stock", "price"), [
    (STOCK, PRICE),
    ("row.hist_units > 0.5 and not row.sens_high == 1 or (row.locked > 0 or row.in_scope != 0)",
     "max(row.cost * 1.1, min(row.list_price, row.usual_price)) if row.elasticity < 1.5 "
     "else row.usual_price * (1 - row.sens_high)"),
    ("sigmoid(row.pred_units - 2) >= 0.5", "row.cost + (row.list_price - row.cost) / 2"),
    ("row.cost * 2 <= row.list_price", "-1.5 + row.cost * 1.2"),
])
def test_rules_as_a_model_writes_them_are_admitted_and_parse(stock: str, price: str) -> None:
    text = RULE.format(stock=stock, price=price)
    assert accepts(LARK, text)
    parse_program(text.partition("\n")[2], FEATURES)


@pytest.mark.parametrize(("stock", "price"), [
    ("row.hist_unit > 0.5", PRICE),  # a near miss the parser would correct
    ("row.secret > 0.5", PRICE),
    (STOCK, "row.cost ** 2"),
    (STOCK, "row.cost * 01.5"),  # a leading zero: Python refuses it
    (STOCK, "clip(row.cost, 1, 2)"),
    (STOCK, "max(row.cost, row.list_price, row.usual_price)"),
    ("0.5 < row.hist_units < 2", PRICE),  # chained comparison
    ("True", PRICE),
    (STOCK, "__import__('os')"),
    (STOCK, "(lambda: 1)()"),
    (STOCK, "row.cost*1.1"),  # spacing is fixed
    (STOCK, "exp(exp(exp(exp(row.cost))))"),  # deeper than the bound
])
def test_what_the_grammar_refuses(stock: str, price: str) -> None:
    assert not accepts(LARK, RULE.format(stock=stock, price=price))


@pytest.mark.parametrize("text", [
    "def stock(row):\n    return row.cost > 1\n\ndef price(row):\n    return row.cost\n",
    "# two\n# lines\n" + RULE.format(stock=STOCK, price=PRICE).partition("\n")[2],
    RULE.format(stock=STOCK, price=PRICE) + "import os\n",
    RULE.format(stock=STOCK, price=PRICE).replace("    return", "  return"),
    "# x\ndef stock(row):\n    x = row.cost\n    return x > 1\n\ndef price(row):\n"
    "    return row.cost\n",
])
def test_the_grammar_fixes_the_layout(text: str) -> None:
    assert not accepts(LARK, text)


def test_the_depth_is_bounded_by_the_parsers_limits() -> None:
    with pytest.raises(ValueError, match="parser takes"):
        rule_grammar(FEATURES, 8)
    assert deepest_fitting(FEATURES, 8) == 5
    long_names = tuple(f"{name}_{'x' * 40}" for name in FEATURES)
    assert deepest_fitting(long_names, 8) < 5
    assert rule_grammar(FEATURES, 5).bounds("rule").chars <= MAX_SOURCE_CHARS


def test_names_must_be_identifiers_and_keywords_are_subscripted() -> None:
    assert feature_forms("cost") == ("row.cost", 'row["cost"]')
    assert feature_forms("class") == ('row["class"]',)
    with pytest.raises(ValueError, match="not an identifier"):
        feature_forms('a"]; import os; x["')
    lark = rule_grammar(("class", "cost"), 2).lark()
    text = RULE.format(stock='row["class"] > 1', price="row.cost")
    assert accepts(lark, text) and not accepts(lark, text.replace('row["class"]', "row.class"))
    parse_program(text.partition("\n")[2], ("class", "cost"))


def test_a_recursive_grammar_has_no_bound() -> None:
    loop = Grammar({"start": (Alt(("(", Ref("start"), ")")), Alt(("x",))),})
    with pytest.raises(ValueError, match="recursive"):
        loop.bounds("start")
