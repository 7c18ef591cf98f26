"""Rules written token by token: the action space the RL and MCTS searchers share.

A rule is built in prefix (Polish) notation, first the left side `h` of the stock
condition `h > c`, then the price expression, from the tokens {+, -, *, /}, the rule
features and `number` (a constant, written as 1.0 and fitted afterwards). A phase ends
when every operator has its two operands; an operator is legal only while the phase's
length bound leaves room for the operands it opens, so every sequence can be finished
and every finished one is a valid rule (the arity check of SR-GPT, Appendix G).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from deeprule.rules import Program, ir

OPERATORS = ("+", "-", "*", "/")
NUMBER = "number"
PHASES = ("stock", "price")
INITIAL_CONSTANT = 1.0
"""The value every `number` token starts at, before constants are fitted."""
STOCK_THRESHOLD = 0.0
"""Where the stock threshold c of `h > c` starts: `x > 0` is the natural test of a count or
a 0/1 flag (and a fitter cannot leave a flat stretch, e.g. 1.0 above every flag)."""


@dataclass(frozen=True)
class Grammar:
    """The token vocabulary and the length bound of each phase."""

    features: tuple[str, ...]
    max_stock_tokens: int = 1
    """1: the stock condition is `feature > c`, a threshold on one column."""
    max_price_tokens: int = 7

    @cached_property
    def tokens(self) -> tuple[str, ...]:
        return (*OPERATORS, *self.features, NUMBER)

    @cached_property
    def index(self) -> dict[str, int]:
        return {t: i for i, t in enumerate(self.tokens)}

    def limit(self, phase: int) -> int:
        return self.max_stock_tokens if phase == 0 else self.max_price_tokens


@dataclass(frozen=True)
class Partial:
    """A rule under construction: the finished stock tokens and the current phase's."""

    grammar: Grammar
    stock: tuple[str, ...] = ()
    price: tuple[str, ...] = ()

    @property
    def phase(self) -> int:
        return 0 if not _complete(self.stock) else 1

    @property
    def current(self) -> tuple[str, ...]:
        return self.stock if self.phase == 0 else self.price

    @property
    def done(self) -> bool:
        return _complete(self.stock) and _complete(self.price)

    def open_slots(self) -> int:
        return _open(self.current)

    def legal(self) -> tuple[str, ...]:
        """Tokens that keep the phase finishable within its bound (none once done)."""
        if self.done:
            return ()
        room = self.grammar.limit(self.phase) - len(self.current)
        leaves = tuple(t for t in self.grammar.tokens if t not in OPERATORS)
        # an operator takes one place and opens one more slot than it fills
        return (*OPERATORS, *leaves) if room >= self.open_slots() + 2 else leaves

    def balanced(self) -> dict[str, float]:
        """A prior over the legal tokens that gives each kind (operator, feature, number) an
        equal share: uniform over tokens would make 19 features crowd out the operators,
        and nearly every expression would be a single leaf."""
        kinds: dict[str, list[str]] = {}
        for token in self.legal():
            kinds.setdefault(_kind(token), []).append(token)
        return {t: 1.0 / (len(kinds) * len(group)) for group in kinds.values() for t in group}

    def random_token(self, rng: np.random.Generator) -> str:
        """A legal token drawn from `balanced()`."""
        prior = self.balanced()
        tokens = list(prior)
        return tokens[int(rng.choice(len(tokens), p=np.fromiter(prior.values(), float)))]

    def then(self, token: str) -> Partial:
        if token not in self.legal():
            raise ValueError(f"token {token!r} is not legal after {self.describe()}")
        if self.phase == 0:
            return Partial(self.grammar, (*self.stock, token), self.price)
        return Partial(self.grammar, self.stock, (*self.price, token))

    def describe(self) -> str:
        """The tokens so far, as the MCTS prompt quotes them."""
        stock = " ".join(self.stock) or "(nothing yet)"
        price = " ".join(self.price) or "(nothing yet)"
        return f"stock h: {stock} | price: {price}"

    def program(self) -> Program:
        """The finished rule: `stock: h > number`, `price: expression`."""
        if not self.done:
            raise ValueError(f"an unfinished rule has no program: {self.describe()}")
        constants: list[float] = []
        stock = ir.Compare(">", _tree(list(self.stock), constants),
                           _constant(constants, STOCK_THRESHOLD))
        price = _tree(list(self.price), constants)
        return Program({"stock": stock, "price": price}, tuple(constants))


def _kind(token: str) -> str:
    return "operator" if token in OPERATORS else "number" if token == NUMBER else "feature"


def _open(tokens: tuple[str, ...]) -> int:
    """Operand slots still to fill (1 for an empty expression)."""
    slots = 1
    for token in tokens:
        slots += 1 if token in OPERATORS else -1
    return slots


def _complete(tokens: tuple[str, ...]) -> bool:
    return bool(tokens) and _open(tokens) == 0


def _constant(constants: list[float], value: float = INITIAL_CONSTANT) -> ir.Const:
    constants.append(value)
    return ir.Const(value, len(constants) - 1)


def _tree(tokens: list[str], constants: list[float]) -> ir.Node:
    token = tokens.pop(0)
    if token in OPERATORS:
        left = _tree(tokens, constants)
        return ir.BinOp(token, left, _tree(tokens, constants))
    if token == NUMBER:
        return _constant(constants)
    return ir.Feature(token)


def relative_reward(fitness: float, reference: float) -> float:
    """Φ as a bounded reward: tanh of the relative gain over the reference (the expert
    rule's Φ); 0 = as good as the expert, towards 1 = far better, towards -1 = far worse.
    (A sharper tanh(10 x gain) found the toy optimum less often: 2 of 4 seeds against 3
    of 4 for the RL searcher at N = 300.)"""
    return float(np.tanh((fitness - reference) / max(abs(reference), 1e-9)))
