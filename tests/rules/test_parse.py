"""Rule text -> IR: what the language accepts, and everything it refuses without running it."""

from pathlib import Path

import numpy as np
import pytest

from deeprule.rules import RuleSyntaxError, complexity, decide, parse_program, render_program
from deeprule.rules.ir import Const, Where
from deeprule.rules.parse import MAX_NODES

FEATURES = ("cost", "list_price", "cat_share", "sensitivity", "loyalty")

RULE = '''
def stock(row):
    """Stock where the category sells, more readily for loyal customers."""
    share = row["cat_share"] * 2.0
    if row.sensitivity > 0.7:
        return share > 0.3
    elif row.loyalty >= 0.5:
        return share > 0.1
    return share > 0.2

def price(row):
    return max(row.cost * 1.1, row.list_price * (1 - 0.05 * row.loyalty))
'''


def columns(n: int = 500, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    cost = rng.uniform(1, 10, n)
    return {"cost": cost, "list_price": cost * rng.uniform(1.1, 1.6, n),
            "cat_share": rng.uniform(0, 0.5, n), "sensitivity": rng.uniform(0, 1, n),
            "loyalty": rng.uniform(0, 1, n)}


def reference(row: dict[str, float]) -> tuple[bool, float]:
    """The same rule written as ordinary Python, one row at a time."""
    share = row["cat_share"] * 2.0
    if row["sensitivity"] > 0.7:
        stock = share > 0.3
    elif row["loyalty"] >= 0.5:
        stock = share > 0.1
    else:
        stock = share > 0.2
    return stock, max(row["cost"] * 1.1, row["list_price"] * (1 - 0.05 * row["loyalty"]))


def test_vectorized_decisions_equal_the_row_by_row_reference() -> None:
    program = parse_program(RULE, FEATURES)
    cols = columns()
    decisions = decide(program, cols)
    for i in range(len(cols["cost"])):
        stock, price = reference({k: v[i] for k, v in cols.items()})
        assert decisions.stock[i] == stock
        if stock:
            assert decisions.price[i] == pytest.approx(price)
    assert np.isnan(decisions.price[~decisions.stock]).all()
    assert not decisions.invalid_price.any()


def test_constants_are_indexed_in_order_and_if_chains_become_where() -> None:
    program = parse_program(RULE, FEATURES)
    assert program.constants == (2.0, 0.7, 0.3, 0.5, 0.1, 0.2, 1.1, 1.0, 0.05)
    assert isinstance(program["stock"], Where)
    assert program.features() == set(FEATURES)
    assert complexity(program["price"]) > complexity(parse_program(
        "def stock(row):\n    return True\ndef price(row):\n    return row.cost * 1.2\n",
        FEATURES)["price"])


def test_negative_literals_are_one_constant() -> None:
    program = parse_program("def stock(row):\n    return row.loyalty > -0.5\n"
                            "def price(row):\n    return row.cost\n", FEATURES)
    assert program.constants == (-0.5,)
    assert program["stock"].right == Const(-0.5, 0)


def test_render_parses_back_to_the_same_decisions_and_writes_fitted_constants() -> None:
    program = parse_program(RULE, FEATURES)
    text = render_program(program)
    again = parse_program(text, FEATURES)
    cols = columns(seed=1)
    first, second = decide(program, cols), decide(again, cols)
    np.testing.assert_array_equal(first.stock, second.stock)
    np.testing.assert_allclose(first.price, second.price, equal_nan=True)
    simple = parse_program("def stock(row):\n    return row.cat_share > 0.2\n"
                           "def price(row):\n    return row.cost * 1.25\n", FEATURES)
    assert "1.4" in render_program(simple, params=(0.2, 1.4))


def test_precedence_survives_rendering() -> None:
    text = ("def stock(row):\n    return not (row.loyalty > 0.5 or row.cat_share < 0.1)\n"
            "def price(row):\n    return (row.cost + 1.0) * 2.0 ** (1.0 - row.loyalty) / "
            "(row.list_price - 3.0)\n")
    program = parse_program(text, FEATURES)
    again = parse_program(render_program(program), FEATURES)
    cols = columns(seed=2)
    np.testing.assert_allclose(decide(program, cols).price, decide(again, cols).price,
                               equal_nan=True)
    np.testing.assert_array_equal(decide(program, cols).stock, decide(again, cols).stock)


HOSTILE = {
    "import": "import os\ndef stock(row):\n    return True\ndef price(row):\n    return 1.0\n",
    "dunder call": "def stock(row):\n    return __import__('os').system('true')\n"
                   "def price(row):\n    return 1.0\n",
    "attribute of a call": "def stock(row):\n    return (1).__class__\n"
                           "def price(row):\n    return 1.0\n",
    "open a file": "def stock(row):\n    return open('{path}', 'w')\n"
                   "def price(row):\n    return 1.0\n",
    "eval": "def stock(row):\n    return eval('1')\ndef price(row):\n    return 1.0\n",
    "lambda": "def stock(row):\n    return (lambda: 1)()\ndef price(row):\n    return 1.0\n",
    "comprehension": "def stock(row):\n    return sum([x for x in (1, 2)])\n"
                     "def price(row):\n    return 1.0\n",
    "string literal": "def stock(row):\n    return 'yes'\ndef price(row):\n    return 1.0\n",
    "unknown feature": "def stock(row):\n    return row.secret > 0\n"
                       "def price(row):\n    return 1.0\n",
    "row method": "def stock(row):\n    return row.keys()\ndef price(row):\n    return 1.0\n",
    "loop": "def stock(row):\n    while True:\n        pass\ndef price(row):\n    return 1.0\n",
    "extra top-level code": "x = 1\ndef stock(row):\n    return True\n"
                            "def price(row):\n    return 1.0\n",
    "other function": "def helper(row):\n    return 1\n",
    "second argument": "def stock(row, extra):\n    return True\n"
                       "def price(row):\n    return 1.0\n",
    "decorator": "@staticmethod\ndef stock(row):\n    return True\n"
                 "def price(row):\n    return 1.0\n",
    "missing price": "def stock(row):\n    return True\n",
    "no return on a path": "def stock(row):\n    if row.loyalty > 0:\n        return True\n"
                           "def price(row):\n    return 1.0\n",
    "keyword argument": "def stock(row):\n    return True\n"
                        "def price(row):\n    return clip(row.cost, lo=1.0, hi=2.0)\n",
    "wrong arity": "def stock(row):\n    return True\ndef price(row):\n    return log(1.0, 2.0)\n",
    "not python": "def stock(row) return yes",
    "walrus": "def stock(row):\n    return (x := 1) > 0\ndef price(row):\n    return 1.0\n",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_or_malformed_text_is_refused_and_never_run(name: str, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    with pytest.raises(RuleSyntaxError):
        parse_program(HOSTILE[name].replace("{path}", str(marker)), FEATURES)
    assert not marker.exists()


def test_errors_name_line_and_column() -> None:
    with pytest.raises(RuleSyntaxError, match=r"line 2, column 12: unknown feature 'secret'"):
        parse_program("def stock(row):\n    return row.secret > 0\n"
                      "def price(row):\n    return 1.0\n", FEATURES)
    with pytest.raises(RuleSyntaxError, match=r"line 2, column 19: not valid Python syntax") \
            as err:
        parse_program("def stock(row):\n    return row.x >\ndef price(row):\n    return 1.0\n",
                      FEATURES)
    assert (err.value.line, err.value.column) == (2, 18)


def test_size_limits_count_substituted_locals() -> None:
    doubling = "".join("    x = x + x\n" for _ in range(12))
    text = f"def stock(row):\n    x = row.cost\n{doubling}    return x > 1.0\n" \
           "def price(row):\n    return 1.0\n"
    with pytest.raises(RuleSyntaxError, match=f"limits {MAX_NODES} nodes"):
        parse_program(text, FEATURES)
    deep = "def stock(row):\n    return " + "+".join(["row.cost"] * 1500) + " > 0\n" \
           "def price(row):\n    return 1.0\n"
    with pytest.raises(RuleSyntaxError):
        parse_program(deep, FEATURES)


def test_near_miss_feature_names_are_corrected_and_reported() -> None:
    text = ("def stock(row):\n    return row.sensitivty > 0.5 and row['cat_shar'] > 0.1\n"
            "def price(row):\n    return row.cots * 1.2\n")
    program = parse_program(text, FEATURES)
    assert dict(program.corrections) == {"sensitivty": "sensitivity", "cat_shar": "cat_share",
                                         "cots": "cost"}
    assert program.features() == {"sensitivity", "cat_share", "cost"}
    assert "sensitivty" not in render_program(program)


@pytest.mark.parametrize("name", ["host", "costs_x", "lyalty_band"])
def test_names_too_far_or_ambiguous_are_still_refused(name: str) -> None:
    with pytest.raises(RuleSyntaxError, match="unknown feature"):
        parse_program(f"def stock(row):\n    return row.{name} > 0\n"
                      "def price(row):\n    return 1.0\n", ("cost", "lost", "loyalty"))
