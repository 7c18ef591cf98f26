"""Rules written token by token (the RL and MCTS action space)."""

import numpy as np
import pytest

from deeprule.rules import decide, parse_program, render_program
from deeprule.search.tokens import OPERATORS, Grammar, Partial, relative_reward

GRAMMAR = Grammar(("cost", "usual_price"), max_stock_tokens=3, max_price_tokens=5)


def _finish(tokens: list[str]) -> Partial:
    state = Partial(GRAMMAR)
    for token in tokens:
        state = state.then(token)
    return state


def test_prefix_tokens_become_the_rule_they_spell() -> None:
    state = _finish(["cost", "*", "cost", "number"])
    assert state.done
    expected = parse_program("def stock(row):\n    return row.cost > 0.0\n"
                             "def price(row):\n    return row.cost * 1.0\n", GRAMMAR.features)
    assert render_program(state.program()) == render_program(expected)


def test_random_legal_sequences_always_finish_within_each_phase_bound() -> None:
    rng = np.random.default_rng(0)
    columns = {"cost": rng.uniform(1, 5, 20), "usual_price": rng.uniform(2, 6, 20)}
    for _ in range(300):
        state = Partial(GRAMMAR)
        while not state.done:
            legal = state.legal()
            state = state.then(legal[int(rng.integers(len(legal)))])
        assert len(state.stock) <= 3 and len(state.price) <= 5
        decisions = decide(state.program(), columns)
        assert decisions.price.shape == (20,)


def test_an_operator_without_room_for_its_operands_is_refused() -> None:
    full = _finish(["cost", "+", "+", "cost"])  # price: 2 of 5 places left, 2 slots open
    assert not set(OPERATORS) & set(full.legal())
    with pytest.raises(ValueError, match="not legal"):
        full.then("*")
    with pytest.raises(ValueError, match="unfinished"):
        full.program()


def test_the_reward_is_bounded_and_zero_at_the_reference() -> None:
    assert relative_reward(10.0, 10.0) == 0.0
    assert 0.7 < relative_reward(20.0, 10.0) < 1.0
    assert -1.0 <= relative_reward(-1e9, 10.0) < -0.99
