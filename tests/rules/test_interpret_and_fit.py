"""Running rules on columns (protected, vectorized) and fitting their constants."""

import numpy as np
import pytest

from deeprule.rules import decide, evaluate, fit_constants, parse_program
from deeprule.rules.interpret import CHUNK_ROWS

FEATURES = ("cost", "demand", "x")


def rule(stock: str, price: str) -> str:
    return f"def stock(row):\n    return {stock}\ndef price(row):\n    return {price}\n"


def test_protected_operators_stay_finite_on_hostile_inputs() -> None:
    x = np.array([0.0, -0.0, 1e-12, -3.0, 1e300, -1e300, 7.0])
    text = rule("row.x / 0.0 > log(0.0)",
                "exp(row.x * 1000.0) + row.x ** -2.0 + (-row.x) ** 0.5 + sqrt(row.x) "
                "+ log(row.x) + 1.0 / row.x")
    program = parse_program(text, FEATURES)
    cols = {"x": x, "cost": np.ones_like(x), "demand": np.ones_like(x)}
    assert np.isfinite(evaluate(program["price"], cols)).all()
    assert evaluate(program["stock"], cols).dtype == np.bool_


def test_fall_through_if_sees_assignments_made_in_its_branch() -> None:
    text = ("def stock(row):\n    return True\n"
            "def price(row):\n    markup = 1.2\n    if row.demand > 5.0:\n        markup = 1.5\n"
            "    return row.cost * markup\n")
    cols = {"cost": np.array([10.0, 10.0]), "demand": np.array([1.0, 9.0]), "x": np.zeros(2)}
    np.testing.assert_allclose(decide(parse_program(text, FEATURES), cols).price, [12.0, 15.0])


def test_numbers_are_true_above_zero_and_bad_prices_are_counted() -> None:
    program = parse_program(rule("row.x - 1.0", "row.cost - 2.0"), FEATURES)
    cols = {"x": np.array([0.5, 2.0, 3.0]), "cost": np.array([5.0, 1.0, 3.0]),
            "demand": np.zeros(3)}
    decisions = decide(program, cols)
    assert decisions.stock.tolist() == [False, True, True]
    assert decisions.invalid_price.tolist() == [False, True, False]  # price -1 when stocked


def test_missing_columns_are_named() -> None:
    program = parse_program(rule("row.demand > 1.0", "row.cost"), FEATURES)
    with pytest.raises(KeyError, match="demand"):
        decide(program, {"cost": np.ones(3), "x": np.ones(3)})


def test_params_replace_the_written_constants() -> None:
    program = parse_program(rule("row.x > 0.5", "row.cost * 2.0"), FEATURES)
    cols = {"x": np.array([0.4, 0.6]), "cost": np.array([1.0, 1.0]), "demand": np.zeros(2)}
    decisions = decide(program, cols, params=(0.3, 3.0))
    assert decisions.stock.tolist() == [True, True]
    np.testing.assert_allclose(decisions.price, [3.0, 3.0])


def test_fitting_recovers_the_profit_maximizing_markup_and_threshold() -> None:
    """Linear demand q = d (2 - p / cost): profit (p - c) q peaks at p = 1.5 c.

    Rows with demand below 3 lose a fixed cost of 2 when stocked, so the best
    threshold on demand lies between the populations at 2 and 4.
    """
    rng = np.random.default_rng(0)
    n = 400
    cost = rng.uniform(1.0, 5.0, n)
    demand = np.where(rng.random(n) < 0.5, 2.0, 4.0)
    cols = {"cost": cost, "demand": demand, "x": np.zeros(n)}

    def negative_profit(d) -> float:
        price = np.where(d.stock, d.price, 0.0)
        units = demand * np.clip(2.0 - price / cost, 0.0, None)
        profit = np.where(d.stock, (price - cost) * units - 2.0, 0.0)
        return -float(profit.sum())

    program = parse_program(rule("row.demand > 1.0", "row.cost * 1.1"), FEATURES)
    fit = fit_constants(program, cols, negative_profit)
    threshold, markup = fit.params
    assert fit.improved and fit.loss_after < fit.loss_before
    assert markup == pytest.approx(1.5, abs=0.01)
    assert 2.0 <= threshold < 4.0
    assert fit.evaluations > 1


def test_a_rule_without_constants_is_returned_unchanged() -> None:
    program = parse_program(rule("row.demand > row.x", "row.cost"), FEATURES)
    cols = {"cost": np.ones(2), "demand": np.ones(2), "x": np.zeros(2)}
    fit = fit_constants(program, cols, lambda d: float(d.price.sum()))
    assert fit.params == () and fit.evaluations == 1 and not fit.improved


def test_columns_longer_than_a_chunk_give_the_rows_one_chunk_would() -> None:
    rows = 2 * CHUNK_ROWS + 123
    rng = np.random.default_rng(5)
    cols = {"cost": rng.uniform(1, 5, rows), "demand": rng.uniform(0, 9, rows),
            "x": rng.normal(size=rows)}
    program = parse_program(rule("row.demand > 3.0 and row.x < 1.0",
                                 "max(row.cost * 1.2, row.cost / row.x, 2.0)"), FEATURES)
    whole = decide(program, cols)
    for start in (0, CHUNK_ROWS - 1, rows - 7):
        part = decide(program, {k: v[start:start + 7] for k, v in cols.items()})
        np.testing.assert_array_equal(whole.stock[start:start + 7], part.stock)
        np.testing.assert_array_equal(whole.price[start:start + 7], part.price)
    assert whole.stock.shape == whole.price.shape == (rows,)
    constant = parse_program(rule("True", "3.0"), FEATURES)
    assert decide(constant, cols).price.shape == (rows,)


def test_a_local_name_used_twice_is_one_shared_value_and_empty_frames_decide_nothing() -> None:
    text = ("def stock(row):\n    share = row.x * 2.0\n    return share > 0.5 and share < 3.0\n"
            "def price(row):\n    return row.cost\n")
    program = parse_program(text, FEATURES)
    cols = {"cost": np.array([1.0, 2.0, 3.0]), "demand": np.zeros(3),
            "x": np.array([0.1, 1.0, 2.0])}
    assert decide(program, cols).stock.tolist() == [False, True, False]
    empty = decide(program, {k: v[:0] for k, v in cols.items()})
    assert empty.stock.shape == empty.price.shape == empty.invalid_price.shape == (0,)
