"""Golden tests: each prompt template rendered from a fixed context, pinned to a file.

A deliberate change of a template (a new version file) or of what fills it fails here
until the golden files are rewritten with
`DEEPRULE_UPDATE_GOLDEN=1 pytest tests/search/test_prompts.py`, so the change shows
up as a diff in review.
"""

import os
from dataclasses import replace
from pathlib import Path

import pytest

from deeprule.llm import LLMClient, Prompt
from deeprule.llm.testing import ScriptedBackend
from deeprule.search import prompts
from deeprule.search.objective import RULE_FEATURES, FitnessConfig
from deeprule.search.proposal import ProposalContext, Restructure, proposal_prompt
from deeprule.search.reflect import EXPERT_RULE, OBJECTIVE, SearchConfig, search
from deeprule.search.summary import summary_prompt
from tests.helpers.memory import WordEncoder
from tests.helpers.rules import markup_rule, toy_candidates

GOLDEN = Path(__file__).parent / "golden"
REFLECTION = ProposalContext(
    RULE_FEATURES, OBJECTIVE, EXPERT_RULE, depth=2, tau=0.05,
    reflection="the usual price is too low for customers who buy little",
    failing=("wholesaler / small: loss 0.142 over 1,204 rows",
             "pharmacy_chain / mid: loss 0.081 over 988 rows"),
    examples=("wholesaler / small, Laundry: cost 3.10, list 6.20, usual 3.72, hist_units 12.0, "
              "elasticity 1.40; the rule stocks at 3.72 for profit 7.4; best 21.0 at 5.27",),
    memories=("iteration 1, segment wholesaler / small: rule price = cost * 1.3; loss in "
              "wholesaler / small 0.150 -> 0.142 (-0.008); reflection: a markup helps",),
    feedback=("refused before fitting: 'stock: hist_units < hist_units' because it is false "
              "on all 9,901 candidate rows",))


def _summary() -> Prompt:
    config = SearchConfig(iterations=2, epsilon=-1.0, fitness=FitnessConfig(eta=0.0, lam=0.0))
    backend = ScriptedBackend([markup_rule(1.3, "a markup on cost"),
                               markup_rule(1.0, "list is the ceiling", base="list_price")])
    result = search(LLMClient(backend, None), toy_candidates(), config,
                    start="def stock(row):\n    return True\ndef price(row):\n"
                          "    return row.usual_price\n", encoder=WordEncoder())
    return summary_prompt(result)


CONTEXTS = {
    "construction": ProposalContext(RULE_FEATURES, OBJECTIVE, depth=2),
    "reflection": REFLECTION,
    "restructure": ProposalContext(
        RULE_FEATURES, OBJECTIVE, EXPERT_RULE, depth=2, reflection=REFLECTION.reflection,
        restructure=Restructure("price:\n  binop *\n    feature usual_price\n"
                                "    constant c1 = 1.05", 0.131,
                                ("c1 = 1.05: d loss / d c1 = -0.2210",), 0.10)),
}
RENDERED = {
    **{kind: lambda c=context: proposal_prompt(c) for kind, context in CONTEXTS.items()},
    **{f"{kind}_text": lambda c=context: proposal_prompt(replace(c, rule_form="text"))
       for kind, context in CONTEXTS.items()},
    "summary": _summary,
}


def _text(prompt: Prompt) -> str:
    return f"[system]\n{prompt.system}\n[user]\n{prompt.user}\n"


@pytest.mark.parametrize("kind", sorted(prompts.VERSIONS))
def test_each_rendered_prompt_matches_its_golden_file(kind: str) -> None:
    golden = GOLDEN / f"{prompts.template_name(kind)}.txt"
    text = _text(RENDERED[kind]())
    if os.environ.get("DEEPRULE_UPDATE_GOLDEN"):
        golden.write_text(text, encoding="utf-8")
    assert golden.exists(), f"no golden file: run with DEEPRULE_UPDATE_GOLDEN=1 ({golden})"
    assert text == golden.read_text(encoding="utf-8"), (
        f"the {kind} prompt changed: review, then rewrite {golden.name} with "
        "DEEPRULE_UPDATE_GOLDEN=1 pytest tests/search/test_prompts.py")


def test_the_text_form_asks_for_text_and_quotes_no_json_form() -> None:
    tree, text = RENDERED["reflection"](), RENDERED["reflection_text"]()
    assert "JSON form you answer in" in tree.user and "JSON" not in text.user + text.system
    assert "def stock(row):" in text.system and "row.name" in text.system
    assert prompts.template_name(replace(REFLECTION, rule_form="text").kind) == \
        "reflection_text_v1"


def test_a_template_without_its_sections_or_a_field_is_a_clear_error() -> None:
    with pytest.raises(KeyError, match="objective"):
        prompts.render("construction", features="", current="", feedback="")
