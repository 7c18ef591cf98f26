"""Rule cards: the audit record of a search's best rule (toy market, hand-built priors)."""

import polars as pl
import pytest

from deeprule.rules import Program, decide, parse_program
from deeprule.search.cards import card_id, rule_card, source_documents
from deeprule.search.objective import RULE_FEATURES, Outcome, outcome
from tests.helpers.document_priors import two_customer_priors
from tests.helpers.rules import toy_candidates

DOC_RULE = ("def stock(row):\n    return row.brand_wanted > 0.5 or row.locked > 0.5\n"
            "def price(row):\n    return row.cost * (1.5 - 0.1 * row.sens_high)\n")


def _table(rule: str, number: int = 1, searcher: str = "llm_reflection") -> pl.DataFrame:
    return pl.DataFrame([{"number": 0, "rule": "x", "fitness": 1.0, "profit": 1.0,
                          "violations": 0, "is_best": False},
                         {"number": number, "rule": rule, "fitness": 2.0, "profit": 3.0,
                          "violations": 0, "is_best": True}]).with_columns(
        searcher=pl.lit(searcher), llm_backend=pl.lit("local"), llm_model=pl.lit("qwen"),
        run_id=pl.lit("r1"))


def test_a_card_names_the_documents_behind_the_facts_its_rule_reads() -> None:
    priors = two_customer_priors(["C1", "C2"])
    card = rule_card(_table(DOC_RULE), toy_candidates(), priors)
    assert card["card_id"] == card_id(DOC_RULE) and card["searcher"] == "llm_reflection"
    assert card["document_features_read"] == ["brand_wanted", "locked", "sens_high"]
    assert card["documents"] == ["D1", "D3"]  # wanted brands + sensitivity D1, lock D3
    assert card["rationale"] == "no rationale: the llm_reflection searcher writes none"
    assert card["complexity"] > 0 and card["llm_model"] == "qwen"


def test_predicted_units_and_profit_follow_the_rules_prices() -> None:
    cand = toy_candidates()
    low, high = (_predicted(m, cand) for m in (1.2, 1.8))
    assert low.stocked == high.stocked == cand.height
    assert low.units > 1.5 * high.units  # elasticity 3: 50% higher price, far fewer units
    card = rule_card(_table(markup_rule_text(1.5)), cand, None)
    assert card["documents"] == [] and card["predicted_profit"] > low.profit


def test_a_search_table_without_its_producer_is_refused() -> None:
    with pytest.raises(ValueError, match="searcher"):
        rule_card(_table(DOC_RULE).drop("searcher"), toy_candidates(), None)


def test_sources_of_features_without_documents_are_empty() -> None:
    assert source_documents(["cost", "in_scope"], two_customer_priors(["C1"])) == []


def markup_rule_text(markup: float) -> str:
    return f"def stock(row):\n    return True\ndef price(row):\n    return row.cost * {markup}\n"


def _predicted(markup: float, cand) -> Outcome:
    program = _program(markup)
    return outcome(program, decide(program, cand.columns), cand)


def _program(markup: float) -> Program:
    return parse_program(markup_rule_text(markup), RULE_FEATURES)
