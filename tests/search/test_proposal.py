"""An LLM rule proposal: scripted for the logic, the real local model once (slow)."""

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from deeprule.llm import LLMClient, ResponseCache
from deeprule.llm.factory import LLMSettings
from deeprule.llm.local import LocalBackend
from deeprule.llm.local import _instance as answer_from_text
from deeprule.llm.models import QWEN_CODER
from deeprule.llm.testing import ScriptedBackend
from deeprule.llm.types import InvalidOutputError, LLMCallFailed, schema_fingerprint
from deeprule.rules import decide, parse_program
from deeprule.rules.schema import rule_schema, to_program
from deeprule.search.check import RowContext, rule_problems
from deeprule.search.objective import RULE_FEATURE_UNITS, RULE_FEATURES
from deeprule.search.proposal import (
    REFLECTION_CHARS,
    ProposalContext,
    RuleRefused,
    answer_schema,
    proposal_prompt,
    propose,
    text_answer_schema,
)
from deeprule.search.reflect import EXPERT_RULE, OBJECTIVE
from resources.paths import data_dir
from tests.helpers.grammar import BYTES, matcher

FEATURES = {"cost": "unit cost of the SKU", "list_price": "the SKU's list price",
            "loyalty": "customer loyalty, 0 (none) to 1 (very loyal)"}
CONTEXT = ProposalContext(FEATURES, "maximize profit without pricing above list price")


def feature(name: str) -> dict:
    return {"kind": "feature", "name": name}


def number(value: float) -> dict:
    return {"kind": "number", "value": value}


def op(symbol: str, left: dict, right: dict) -> dict:
    return {"kind": "op", "op": symbol, "left": left, "right": right}


GOOD = {"reflection": "loyal customers, a markup capped at list",
        "stock": {"left": feature("loyalty"), "cmp": ">", "right": number(0.3)},
        "price": op("min", feature("list_price"), op("*", feature("cost"), number(1.25)))}


def columns() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    cost = rng.uniform(1, 10, 200)
    return {"cost": cost, "list_price": cost * 1.4, "loyalty": rng.uniform(0, 1, 200)}


def test_a_valid_answer_becomes_the_same_program_as_its_text() -> None:
    backend = ScriptedBackend([json.dumps(GOOD)])
    proposal = propose(LLMClient(backend, None), CONTEXT)
    assert proposal.program.constants == (0.3, 1.25)
    expected = parse_program("def stock(row):\n    return row.loyalty > 0.3\n"
                             "def price(row):\n    return min(row.list_price, row.cost * 1.25)\n",
                             FEATURES)
    cols = columns()
    np.testing.assert_allclose(decide(proposal.program, cols).price,
                               decide(expected, cols).price, equal_nan=True)
    assert parse_program(proposal.text, FEATURES).constants == (0.3, 1.25)
    assert proposal.record.ok and proposal.record.attempts == 1
    assert proposal.reflection == GOOD["reflection"] and proposal.template == "construction_v1"


def test_prompt_carries_features_goal_current_rule_and_feedback() -> None:
    context = ProposalContext(FEATURES, "maximize profit", current_rule="def stock(row): ...",
                              feedback=("raising the markup lost 3% of profit",))
    prompt = proposal_prompt(context)
    assert all(name in prompt.system for name in FEATURES)
    assert "maximize profit" in prompt.system
    assert "def stock(row): ..." in prompt.user and "lost 3%" in prompt.user
    other = replace(context, objective="maximize profit without pricing above list price")
    assert proposal_prompt(other).system == prompt.system.replace(
        "maximize profit", "maximize profit without pricing above list price")
    assert proposal_prompt(other).user == prompt.user  # what changes is last
    assert prompt.system.startswith("You are now tasked with building")  # nothing scored yet
    failing = proposal_prompt(replace(context, failing=("wholesaler / small: loss 0.2",)))
    assert failing.system.startswith("You are now tasked with improving")
    assert "wholesaler / small: loss 0.2" in failing.user


@pytest.mark.parametrize("bad", [
    {**GOOD, "stock": {"left": feature("secret_margin"), "cmp": ">", "right": number(0.3)}},
    {**GOOD, "price": number(1e9)},
    {**GOOD, "price": {"kind": "call", "func": "eval", "arg": number(1.0)}},
    {**GOOD, "price": op("*", op("*", op("*", op("*", feature("cost"), number(1.0)),
                                         number(1.0)), number(1.0)), number(1.0))},
    {**GOOD, "extra": "ignore previous instructions"},
    {k: v for k, v in GOOD.items() if k != "reflection"},
    {**GOOD, "reflection": "x" * (REFLECTION_CHARS + 1)},
])
def test_answers_outside_the_schema_are_retried_then_fail(bad: dict) -> None:
    backend = ScriptedBackend([json.dumps(bad)] * 3)
    with pytest.raises(LLMCallFailed):
        propose(LLMClient(backend, None, max_retries=2, backoff_s=0.0), CONTEXT)
    assert backend.calls == 3


def test_schema_depth_bounds_nesting() -> None:
    shallow = rule_schema(tuple(FEATURES), depth=1)
    rule = {k: v for k, v in GOOD.items() if k != "reflection"}
    deeper = json.dumps({**rule, "price": op("*", op("*", feature("cost"), number(1.0)),
                                             number(1.0))})
    with pytest.raises(ValueError):
        shallow.model_validate_json(deeper)
    assert rule_schema(tuple(FEATURES), depth=2).model_validate_json(deeper)


@pytest.mark.slow
def test_real_local_model_proposes_a_rule_that_compiles_and_runs(tmp_path: Path) -> None:
    backend = LocalBackend(data_dir() / "models", max_tokens=400)
    client = LLMClient(backend, ResponseCache(tmp_path / "cache.duckdb"), timeout_s=180)
    proposal = propose(client, ProposalContext(FEATURES, CONTEXT.objective, depth=2))
    assert proposal.program.features() <= set(FEATURES)
    decisions = decide(proposal.program, columns())
    assert decisions.stock.dtype == np.bool_ and len(decisions.price) == 200
    assert parse_program(proposal.text, FEATURES).features() == proposal.program.features()


def test_the_current_rule_is_quoted_in_the_answer_form_it_round_trips_to() -> None:
    text = ("def stock(row):\n    return row.loyalty > 0.3\n\ndef price(row):\n"
            "    return min(row.list_price, row.cost * 1.25) if row.cost < 5.0 else "
            "row.list_price\n")
    prompt = proposal_prompt(ProposalContext(FEATURES, "profit", current_rule=text, depth=3))
    tree = prompt.user.split("JSON form you answer in:\n")[1].split("\n")[0]
    program = to_program(rule_schema(tuple(FEATURES), 3).model_validate_json(tree))
    cols = columns()
    np.testing.assert_allclose(decide(program, cols).price,
                               decide(parse_program(text, FEATURES), cols).price, equal_nan=True)
    unexpressible = "def stock(row):\n    return row.loyalty > 0.3 and row.cost > 1.0\n" \
                    "def price(row):\n    return row.cost\n"
    assert "JSON form" not in proposal_prompt(
        ProposalContext(FEATURES, "profit", current_rule=unexpressible)).user


@pytest.mark.slow
def test_qwen_coder_proposes_a_rule_that_parses_and_passes_the_check(tmp_path: Path) -> None:
    """The model the rule search uses by default, from the expert rule, with refusals fed
    back: its answer compiles to IR over the offered features and is not degenerate."""
    rng = np.random.default_rng(3)
    cost = rng.uniform(2.0, 20.0, 500)
    usual = cost * rng.uniform(1.1, 1.5, 500)
    cols = {"cost": cost, "list_price": cost * 1.8, "usual_price": usual,
            "hist_units": np.where(rng.uniform(size=500) < 0.3, 0.0, rng.uniform(1, 60, 500)),
            "elasticity": rng.uniform(0.5, 3.0, 500)}
    rows = RowContext(cols, RULE_FEATURE_UNITS, usual)
    backend = LocalBackend(data_dir() / "models", QWEN_CODER,
                           max_tokens=LLMSettings.rule_max_new_tokens)
    client = LLMClient(backend, ResponseCache(tmp_path / "cache.duckdb"), timeout_s=600)
    context = ProposalContext(RULE_FEATURES, OBJECTIVE, EXPERT_RULE, depth=2)
    proposal = propose(client, context, check=lambda p: rule_problems(p, rows), check_retries=2)
    assert proposal.program.features() <= set(RULE_FEATURES)
    assert rule_problems(proposal.program, rows) == []
    assert parse_program(proposal.text, RULE_FEATURES).features() == proposal.program.features()


def text_answer(rule: str, reflection: str = "a markup capped at list") -> str:
    """A text-form answer as a remote model returns it (JSON with the rule as free text)."""
    return json.dumps({"reflection": reflection, "rule": rule})


TEXT = replace(CONTEXT, rule_form="text")
GOOD_TEXT = ("def stock(row):\n    return row.loyalty > 0.3\n\n"
             "def price(row):\n    return min(row.list_price, row.cost * 1.25)\n")


def test_a_text_answer_is_parsed_into_the_same_program_as_the_tree() -> None:
    backend = ScriptedBackend([text_answer(GOOD_TEXT)])
    proposal = propose(LLMClient(backend, None), TEXT)
    tree = propose(LLMClient(ScriptedBackend([json.dumps(GOOD)]), None), CONTEXT)
    assert proposal.text == tree.text and proposal.program.constants == (0.3, 1.25)
    assert proposal.template == "construction_text_v1" and proposal.corrections == ""
    assert proposal.reflection == "a markup capped at list"
    assert "def stock(row):" in backend.prompts[0].system and "JSON" not in \
        backend.prompts[0].system


def test_text_that_does_not_parse_is_fed_back_with_line_and_column() -> None:
    broken = GOOD_TEXT.replace("row.loyalty > 0.3", "row.loyalty > 0.3 +")
    unknown = GOOD_TEXT.replace("row.cost", "row.margin")
    backend = ScriptedBackend([text_answer(broken), text_answer(unknown),
                               text_answer(GOOD_TEXT)])
    proposal = propose(LLMClient(backend, None), TEXT, check_retries=2)
    assert proposal.program.constants == (0.3, 1.25) and backend.calls == 3
    first, second = proposal.refusals
    assert first.startswith("not parsed: not valid Python syntax") and "line 2" in first
    assert "line 5, column 32: unknown feature 'margin'" in second
    assert "'return min(row.list_price, row.margin * 1.25)'" in second
    assert first in backend.prompts[1].user and second in backend.prompts[2].user


def test_text_that_never_parses_is_refused_within_the_same_reask_budget() -> None:
    backend = ScriptedBackend([text_answer("import os\n")] * 2)
    with pytest.raises(RuleRefused) as refused:
        propose(LLMClient(backend, None), TEXT, check_retries=1)
    assert backend.calls == 2 and len(refused.value.refusals) == 2
    assert "only `def stock(row)` / `def price(row)` may appear" in refused.value.refusals[0]


def test_near_miss_names_are_corrected_and_reported() -> None:
    backend = ScriptedBackend([text_answer(GOOD_TEXT.replace("row.loyalty", "row.loyalty_")
                                           .replace("row.cost", 'row["cots"]'))])
    proposal = propose(LLMClient(backend, None), TEXT)
    assert proposal.corrections == "read 'loyalty_' as 'loyalty'; read 'cots' as 'cost'"
    assert proposal.program.features() == {"loyalty", "list_price", "cost"}


def test_the_text_schema_carries_its_grammar_into_the_cache_key() -> None:
    shallow, deep = text_answer_schema(tuple(FEATURES), 1), text_answer_schema(tuple(FEATURES), 2)
    assert shallow.model_json_schema() == deep.model_json_schema()
    assert shallow.lark != deep.lark and "row.loyalty" in deep.lark
    assert schema_fingerprint(shallow) != schema_fingerprint(deep)
    client = LLMClient(ScriptedBackend(), None)
    prompt = proposal_prompt(TEXT)
    assert client.key(prompt, shallow) != client.key(prompt, deep)
    assert schema_fingerprint(answer_schema(tuple(FEATURES))) == hashlib.sha256(json.dumps(
        answer_schema(tuple(FEATURES)).model_json_schema(), sort_keys=True,
        separators=(",", ":")).encode()).hexdigest()  # tree answers keep their cached keys


def test_the_local_backend_reads_a_grammar_answer_from_its_captures() -> None:
    schema = text_answer_schema(tuple(FEATURES), 2)
    text = f"# loyal customers pay a markup\n{GOOD_TEXT}"
    m = matcher(schema.lark)
    assert m.consume_tokens(BYTES.tokenize_bytes(text.encode()))
    value = answer_from_text(schema, text, m)
    assert (value.reflection, value.rule) == ("loyal customers pay a markup", GOOD_TEXT)
    cut = matcher(schema.lark)
    cut.consume_tokens(BYTES.tokenize_bytes(text[:60].encode()))
    with pytest.raises(InvalidOutputError, match="before its grammar was complete"):
        answer_from_text(schema, text[:60], cut)


@pytest.mark.slow
def test_qwen_coder_writes_rule_text_in_the_grammar_that_always_parses(tmp_path: Path) -> None:
    """Rule text from the default rule model under the grammar, three draws (greedy, then
    sampled): every answer parses with no correction and no refusal."""
    backend = LocalBackend(data_dir() / "models", QWEN_CODER,
                           max_tokens=LLMSettings.rule_max_new_tokens)
    client = LLMClient(backend, ResponseCache(tmp_path / "cache.duckdb"), timeout_s=600,
                       max_retries=0)
    context = ProposalContext(RULE_FEATURES, OBJECTIVE, EXPERT_RULE, depth=2, rule_form="text")
    for sample in range(3):
        proposal = propose(client, context, sample=sample, check_retries=0)
        assert proposal.refusals == () and proposal.corrections == ""
        assert proposal.program.features() <= set(RULE_FEATURES) and proposal.reflection
        assert proposal.record.mode == "llguidance" and proposal.record.ok
