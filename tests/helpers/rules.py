"""Rules as a scripted LLM writes them (the proposal schema's JSON), and a toy market whose
best rule is known."""

import json

from deeprule.rules import decide, parse_program
from deeprule.search.objective import RULE_FEATURES, Candidates, FitnessConfig, outcome
from deeprule.search.toy import TOY_SEGMENTS, toy_market

ROWS = 300
SEGMENTS = TOY_SEGMENTS
SUMMARY = json.dumps({
    "initial_approach": "usual price everywhere", "improvements": "a 1.3 x cost markup",
    "fitness_trend": "rose once, then flat", "final_performance": "profit +20 %",
    "key_features": ["cost"], "limitations": "one markup for every customer"})
"""A phase summary as a scripted LLM writes it."""
NO_PENALTY = FitnessConfig(eta=0.0, lam=0.05)


def spread_toy_candidates() -> Candidates:
    """The toy market with usual prices spread ±25% around 1.2 x cost: fitting the expert
    rule's `usual_price * c` leaves it ~5% below the optimum, a searcher that fits constants
    must find a rule reading the cost (or the list price, 2 x cost)."""
    return toy_market(ROWS, usual_spread=0.25)


def toy_profit(text: str, cand: Candidates | None = None) -> float:
    """Predicted profit of a rule on the toy market (or on `cand`)."""
    cand = cand or toy_candidates()
    program = parse_program(text, RULE_FEATURES)
    return outcome(program, decide(program, cand.columns), cand, NO_PENALTY).profit


def markup_rule(markup: float, reflection: str = "price as a markup on cost",
                base: str = "cost") -> str:
    """A reflection and the rule: stock what sold, price = `base` x `markup` (rules on
    different bases have different structures: the search refuses a structure twice)."""
    price = {"kind": "op", "op": "*", "left": {"kind": "feature", "name": base},
             "right": {"kind": "number", "value": markup}}
    stock = {"left": {"kind": "feature", "name": "hist_units"}, "cmp": ">",
             "right": {"kind": "number", "value": 0.0}}
    return json.dumps({"reflection": reflection, "stock": stock, "price": price})


def toy_candidates(elasticity: float = 3.0, wholesaler: float | None = None) -> Candidates:
    """Constant elasticity e: the profit-maximizing price is cost * e / (e - 1) = 1.5 cost
    (`wholesaler`: another e in the second segment, no single markup best in both)."""
    return toy_market(ROWS, elasticity, wholesaler=wholesaler)
