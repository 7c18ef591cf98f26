"""The rule check refuses planted degenerate rules before fitting, and says why."""

import json

import numpy as np
import pytest

from deeprule.llm import LLMClient
from deeprule.llm.testing import ScriptedBackend
from deeprule.rules import parse_program
from deeprule.search.check import RowContext, rule_problems
from deeprule.search.objective import RULE_FEATURE_UNITS, RULE_FEATURES
from deeprule.search.proposal import ProposalContext, RuleRefused, propose

ROWS = 400


def rows() -> RowContext:
    rng = np.random.default_rng(1)
    cost = rng.uniform(2.0, 20.0, ROWS)
    usual = cost * rng.uniform(1.1, 1.5, ROWS)
    columns = {"cost": cost, "list_price": cost * 1.8, "usual_price": usual,
               "hist_units": np.where(rng.uniform(size=ROWS) < 0.3, 0.0,
                                      rng.uniform(1, 60, ROWS)),
               "elasticity": rng.uniform(0.5, 3.0, ROWS),
               "market_price": usual * rng.uniform(0.9, 1.1, ROWS),
               "pred_units": rng.uniform(0.5, 40, ROWS),
               "discount_ceiling": np.where(rng.uniform(size=ROWS) < 0.5, 0.0, 0.15),
               "brand_wanted": (rng.uniform(size=ROWS) < 0.2).astype(float)}
    return RowContext(columns, RULE_FEATURE_UNITS, usual)


def rule(stock: str, price: str) -> str:
    return f"def stock(row):\n    return {stock}\n\ndef price(row):\n    return {price}\n"


def problems(stock: str, price: str) -> list[str]:
    return rule_problems(parse_program(rule(stock, price), RULE_FEATURES), rows())


@pytest.mark.parametrize(("stock", "price"), [
    ("row.hist_units > 0.0", "row.usual_price * 1.0"),  # the expert rule
    ("row.hist_units > 2.0",
     "row.usual_price * 1.05 if row.elasticity < 1.5 else row.usual_price * 0.98"),
    ("row.cost > 0.0", "max(row.cost * 1.1, row.usual_price)"),  # stock everything: a plan
    ("row.hist_units * row.usual_price > 100.0", "row.list_price - (row.list_price - row.cost) / "
                                                 "row.elasticity"),
    ("row.brand_wanted > 0.5", "max(row.cost, row.list_price * (1.0 - row.discount_ceiling))"),
    ("row.pred_units > 2.0", "min(row.market_price, row.list_price)"),
])
def test_sensible_rules_pass(stock: str, price: str) -> None:
    assert problems(stock, price) == []


@pytest.mark.parametrize(("stock", "price", "reason"), [
    ("row.hist_units < row.hist_units", "row.usual_price", "is false on all 400"),
    ("row.hist_units > 500.0", "row.usual_price", "hist_units runs from 0 to"),
    ("row.hist_units > 1.0", "row.cost * 1.2 if row.cost > 0.0 else row.usual_price",
     "`row[\"cost\"] > 0.0` is true on all"),
    ("row.hist_units > 1.0",
     "row.usual_price * 1.1 if row.elasticity > 2.0 else row.usual_price * 1.1",
     "both branches"),
    ("row.hist_units > 1.0", "12.5", "price(row) reads no feature"),
    ("3.0 > 2.0", "row.usual_price", "stock(row) reads no feature"),
    ("row.usual_price > row.hist_units", "row.usual_price", "mixes money with units"),
    ("row.hist_units > 1.0", "row.hist_units * 2.0", "price(row) is in units, not money"),
    ("row.hist_units > 1.0", "row.elasticity * 3.0", "price(row) is in a plain ratio"),
    ("row.hist_units > 1.0", "row.usual_price + row.hist_units", "mixes money with units"),
    ("row.hist_units > 1.0", "row.usual_price * 100.0", "times the usual price"),
    ("row.hist_units > 1.0", "row.cost / 100.0", "wrong unit or scale"),
    ("row.pred_units > row.market_price", "row.usual_price", "mixes units with money"),
    ("row.hist_units > 1.0", "row.discount_ceiling * 10.0", "price(row) is in a plain ratio"),
])
def test_planted_degenerate_rules_are_refused_with_the_reason(stock: str, price: str,
                                                               reason: str) -> None:
    found = problems(stock, price)
    assert any(reason in p for p in found), found


def test_every_rule_feature_has_a_meaning_and_a_unit() -> None:
    assert set(RULE_FEATURE_UNITS) == set(RULE_FEATURES)
    assert set(RULE_FEATURE_UNITS.values()) <= {"money", "units", ""}
    assert all(len(meaning) > 10 for meaning in RULE_FEATURES.values())


def node(kind: str, **fields) -> dict:
    return {"kind": kind, **fields}


DEGENERATE = json.dumps({
    "reflection": "stock nothing",
    "stock": {"left": node("feature", name="hist_units"), "cmp": "<",
              "right": node("feature", name="hist_units")},
    "price": node("feature", name="usual_price")})
GOOD = json.dumps({
    "reflection": "a small markup on what sold",
    "stock": {"left": node("feature", name="hist_units"), "cmp": ">",
              "right": node("number", value=1.0)},
    "price": node("op", op="*", left=node("feature", name="usual_price"),
                  right=node("number", value=1.05))})


def check(program):
    return rule_problems(program, rows())


def test_a_refusal_is_fed_back_into_the_next_prompt() -> None:
    backend = ScriptedBackend([DEGENERATE, GOOD])
    proposal = propose(LLMClient(backend, None), ProposalContext(RULE_FEATURES, "profit"),
                       check=check)
    assert backend.calls == 2
    assert "refused before fitting" in backend.prompts[1].user
    assert "is false on all 400 candidate rows" in backend.prompts[1].user
    assert "refused" not in backend.prompts[0].user
    assert len(proposal.refusals) == 1 and proposal.program.features() == {
        "hist_units", "usual_price"}
    assert proposal.prompt_tokens == 2 * backend.tokens_per_call[0]


def test_refused_every_time_is_an_error_carrying_every_reason() -> None:
    backend = ScriptedBackend([DEGENERATE] * 3)
    with pytest.raises(RuleRefused) as info:
        propose(LLMClient(backend, None), ProposalContext(RULE_FEATURES, "profit"),
                check=check, check_retries=2)
    assert backend.calls == 3 and len(info.value.refusals) == 3
    assert info.value.prompt_tokens == 3 * backend.tokens_per_call[0]
    assert info.value.requests == 3  # every model request of the step, not one
