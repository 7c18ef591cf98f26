"""The reflection loop on a toy market with a known optimum (scripted LLM)."""

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from deeprule.evaluate.experiment import world_tables
from deeprule.evaluate.plans import rule_profit
from deeprule.llm import LLMClient, ResponseCache
from deeprule.llm.factory import LLMSettings, make_clients
from deeprule.llm.local import LocalBackend
from deeprule.llm.models import QWEN_CODER
from deeprule.llm.testing import ScriptedBackend
from deeprule.llm.types import InvalidOutputError
from deeprule.models.dataset import prepare
from deeprule.models.demand import DemandConfig, fit_demand
from deeprule.rules import decide, parse_program
from deeprule.search.checkpoint import Checkpoint
from deeprule.search.objective import (
    RULE_FEATURES,
    FitnessConfig,
    candidates,
    outcome,
)
from deeprule.search.reflect import (
    MUTATED,
    Iteration,
    SearchConfig,
    SearchResult,
    search,
    structure,
)
from deeprule.synth import build_world, resolve_spec
from resources.paths import data_dir
from tests.helpers.memory import WordEncoder
from tests.helpers.rules import ROWS, SEGMENTS, markup_rule, toy_candidates


def test_toy_response_has_the_textbook_optimum() -> None:
    cand = toy_candidates()
    usual_units = cand.response.units(cand.columns["usual_price"])
    np.testing.assert_allclose(usual_units, 50.0, rtol=1e-9)
    prices = cand.columns["cost"][:, None] * np.linspace(1.1, 1.9, 81)[None, :]
    profit = (prices - cand.columns["cost"][:, None]) * np.stack(
        [cand.response.units(prices[:, j]) for j in range(81)], axis=1)
    best = np.linspace(1.1, 1.9, 81)[profit.argmax(axis=1)]
    np.testing.assert_allclose(best, 1.5, atol=0.011)


LIST_PRICE_RULE = json.dumps({
    "reflection": "the markup is too low: price at list",
    "stock": {"left": {"kind": "feature", "name": "hist_units"}, "cmp": ">",
              "right": {"kind": "number", "value": 0.0}},
    "price": {"kind": "feature", "name": "list_price"}})
"""Price at list (2 x cost) with no constant to fit: profit 0.125 vs 0.148 per unit of cost^-2."""
USUAL_PRICE_START = ("def stock(row):\n    return True\n"
                     "def price(row):\n    return row.usual_price\n")
"""Price at usual (1.2 x cost), nothing to fit: 22% below the optimum's profit."""
NEVER_CONVERGED = -1.0
"""An ε no segment loss is below: the loop runs its iterations (the toy optimum is reachable)."""


def test_search_keeps_the_better_rule_fits_its_markup_and_remembers() -> None:
    cand = toy_candidates()
    backend = ScriptedBackend([markup_rule(1.3, "usual prices leave profit: a markup"),
                               LIST_PRICE_RULE])
    config = SearchConfig(iterations=2, epsilon=NEVER_CONVERGED,
                          fitness=FitnessConfig(eta=0.0, lam=0.0))
    result = search(LLMClient(backend, None), cand, config, start=USUAL_PRICE_START,
                    encoder=WordEncoder())
    assert [i.status for i in result.iterations] == ["expert", "improved", "kept"]
    assert result.best_number == 1
    assert result.best.constants[-1] == pytest.approx(1.5, abs=0.02)  # fitted, not 1.3
    assert result.best_outcome.profit > 1.2 * result.iterations[0].profit
    first, second = result.memory.entries
    assert first.segment in SEGMENTS and first.loss_change < -0.1  # closed most of the gap
    assert first.reflection == "usual prices leave profit: a markup"
    assert second.loss_change > 0.02  # the list price lost again
    assert result.iterations[1].template == "reflection_v1"
    assert result.iterations[1].reflection == "usual prices leave profit: a markup"
    asked = backend.prompts[1].user
    assert "Current rule" in asked and "usual prices leave profit: a markup" in asked
    assert "iteration 1, segment" in asked  # the memory, quoted
    table = result.table()
    assert table.height == 3 and set(table["status"]) <= {"expert", "improved", "kept"}
    assert result.segments["loss"].max() < 0.005 < result.iterations[0].max_segment_loss


def test_the_first_prompt_names_the_failing_segments_and_their_worst_rows() -> None:
    backend = ScriptedBackend([markup_rule(1.3)])
    config = SearchConfig(iterations=1, tau=0.05, epsilon=NEVER_CONVERGED)
    search(LLMClient(backend, None), toy_candidates(wholesaler=2.0), config,
           start=USUAL_PRICE_START, encoder=WordEncoder())
    expert = search(LLMClient(ScriptedBackend(), None), toy_candidates(wholesaler=2.0),
                    SearchConfig(iterations=0), start=USUAL_PRICE_START).segments
    losses = dict(zip(expert["segment"], expert["loss"], strict=True))
    assert all(loss > 0.05 for loss in losses.values())  # both segments fail at usual prices
    failing = backend.prompts[0].user.split("Segments whose loss is above 0.050:\n")[1]
    worst = max(losses, key=losses.get)
    assert failing.startswith(f"- {worst}: loss {losses[worst]:.3f}")
    rows = failing.split("Rows with the largest gap:\n")[1].split("Reflection")[0]
    assert rows.count("\n- ") + 1 == config.examples_shown and "the rule stocks at" in rows


def test_the_search_stops_once_every_segment_is_within_epsilon() -> None:
    backend = ScriptedBackend([markup_rule(1.3), LIST_PRICE_RULE])
    result = search(LLMClient(backend, None), toy_candidates(),
                    SearchConfig(iterations=5, epsilon=0.01,
                                 fitness=FitnessConfig(eta=0.0, lam=0.0)),
                    start=USUAL_PRICE_START, encoder=WordEncoder())
    assert backend.calls == 1 and result.stopped == "converged"
    assert result.segments["loss"].max() < 0.01


def test_a_proposal_whose_fitted_loss_stays_above_xi_is_restructured_next() -> None:
    flat = json.dumps({"reflection": "sell everything at cost plus a fixed amount",
                       "stock": json.loads(markup_rule(1.0))["stock"],
                       "price": {"kind": "op", "op": "+",
                                 "left": {"kind": "feature", "name": "cost"},
                                 "right": {"kind": "number", "value": 0.01}}})
    backend = ScriptedBackend([flat, markup_rule(1.3)])
    config = SearchConfig(iterations=2, xi=0.02, epsilon=NEVER_CONVERGED, patience=5,
                          fitness=FitnessConfig(eta=0.0, lam=0.0, rho=0.0))
    result = search(LLMClient(backend, None), toy_candidates(), config,
                    start=USUAL_PRICE_START, encoder=WordEncoder())
    assert result.iterations[1].loss > 0.02  # cost + a constant: tuning cannot get there
    assert [i.template for i in result.iterations[1:]] == ["reflection_v1", "restructure_v1"]
    asked = backend.prompts[1].user
    assert "Its syntax tree:" in asked and "feature cost" in asked and "constant c0 =" in asked
    assert "d loss / d c0" in asked and "sell everything at cost" in asked
    assert backend.prompts[1].system.startswith("You are now tasked with changing the structure")
    assert result.best_number == 2


def test_failed_proposals_are_iterations_and_a_spent_budget_stops_cleanly() -> None:
    cand = toy_candidates()
    failing = ScriptedBackend([InvalidOutputError("not JSON", 10, 5)] * 3
                              + [markup_rule(1.4)])
    result = search(LLMClient(failing, None, max_retries=2, backoff_s=0.0), cand,
                    SearchConfig(iterations=4, epsilon=NEVER_CONVERGED), encoder=WordEncoder())
    assert [i.status for i in result.iterations][1] == "failed"
    assert result.iterations[1].prompt_tokens == 30
    assert [i.llm_calls for i in result.iterations] == [0, 3, 1]  # the retries count in N
    assert result.stopped == "calls"
    budgeted = search(LLMClient(ScriptedBackend([markup_rule(1.4)] * 5), None,
                                token_budget=150), cand,
                      SearchConfig(iterations=5, epsilon=NEVER_CONVERGED), encoder=WordEncoder())
    assert budgeted.iterations[-1].status == "budget" and len(budgeted.iterations) < 6


def test_a_rule_equal_to_the_best_up_to_round_off_is_kept_not_improved() -> None:
    cand = toy_candidates()
    config = SearchConfig(iterations=2, patience=5, epsilon=NEVER_CONVERGED)
    same_optimum = markup_rule(1.1, base="usual_price")  # usual = 1.2 cost: fits to 1.25
    result = search(LLMClient(ScriptedBackend([markup_rule(1.3), same_optimum]), None),
                    cand, config, start=USUAL_PRICE_START, encoder=WordEncoder())
    assert [i.status for i in result.iterations] == ["expert", "improved", "kept"]


def test_outcome_counts_prices_outside_cost_and_list_as_violations() -> None:
    cand = toy_candidates()
    program = parse_program("def stock(row):\n    return True\n"
                            "def price(row):\n    return row.cost * 0.5\n", RULE_FEATURES)
    out = outcome(program, decide(program, cand.columns), cand)
    assert out.violations == ROWS and out.profit == pytest.approx(0.0)  # held at cost


def test_realized_profit_uses_the_given_truth() -> None:
    cand = toy_candidates()
    program = parse_program("def stock(row):\n    return True\n"
                            "def price(row):\n    return row.cost * 1.5\n", RULE_FEATURES)
    realized = rule_profit(program, cand, lambda prices: np.full(len(prices), 10.0))
    assert realized == pytest.approx(float(np.sum(0.5 * cand.columns["cost"] * 10.0)))


def test_candidates_from_a_trained_demand_model_on_the_tiny_world() -> None:
    tables = world_tables(build_world(resolve_spec("tiny")))
    data = prepare(tables, 1, 1)
    fit = fit_demand(data.train, data.valid, data.spec, DemandConfig(beta=0.3, max_epochs=1))
    cand = candidates(data.test, fit.scorer.response(data.test), tables.shipments)
    assert set(cand.columns) == set(RULE_FEATURES) and cand.height == data.test.height
    assert all(np.isfinite(v).all() for v in cand.columns.values())
    assert (cand.columns["elasticity"] >= 0).all()  # the monotone pathway, as a feature
    assert (cand.columns["cost"] < cand.columns["list_price"]).all()
    expert = search(LLMClient(ScriptedBackend(), None), cand, SearchConfig(iterations=0))
    assert expert.best_outcome.stocked > 0 and expert.best_outcome.profit > 0


class RecordingBackend:
    """A real backend that keeps every prompt it was sent."""

    def __init__(self, backend: LocalBackend) -> None:
        self.backend, self.prompts = backend, []

    def __getattr__(self, name: str) -> object:
        return getattr(self.backend, name)

    def generate(self, prompt, schema, timeout_s, attempt=0):
        self.prompts.append(prompt)
        return self.backend.generate(prompt, schema, timeout_s, attempt)


class _Killed(BaseException):
    """Stands in for kill -9 between two iterations (not an Exception: nothing catches it)."""


def test_a_killed_search_resumes_from_its_checkpoint_without_repeating_work(
        tmp_path: Path) -> None:
    cand = toy_candidates()
    answers = [markup_rule(1.3), markup_rule(1.2, base="usual_price"), LIST_PRICE_RULE]
    config = SearchConfig(iterations=3, patience=3, epsilon=NEVER_CONVERGED,
                          fitness=FitnessConfig(eta=0.0, lam=0.0))
    whole = search(LLMClient(ScriptedBackend(list(answers)), None), cand, config,
                   start=USUAL_PRICE_START)

    checkpoint = Checkpoint(tmp_path / "search.json", "run-1")
    def die(*_: object) -> str:
        raise _Killed

    dying = ScriptedBackend(answers[:2], responder=die)
    with pytest.raises(_Killed):
        search(LLMClient(dying, None), cand, config, start=USUAL_PRICE_START,
               checkpoint=checkpoint)
    rest = ScriptedBackend(answers[2:])
    resumed = search(LLMClient(rest, None), cand, config, start=USUAL_PRICE_START,
                     checkpoint=checkpoint)
    assert rest.calls == 1  # only the iteration the kill interrupted is asked again
    assert [i.status for i in resumed.iterations] == [i.status for i in whole.iterations]
    assert [i.rule for i in resumed.iterations] == [i.rule for i in whole.iterations]
    assert resumed.best_number == whole.best_number
    assert resumed.best_outcome.profit == pytest.approx(whole.best_outcome.profit, rel=1e-9)

    again = ScriptedBackend([])
    finished = search(LLMClient(again, None), cand, config, start=USUAL_PRICE_START,
                      checkpoint=checkpoint)
    assert again.calls == 0 and len(finished.iterations) == len(whole.iterations)
    other = Checkpoint(tmp_path / "search.json", "run-2")  # another run's key starts over
    fresh = ScriptedBackend(list(answers))
    search(LLMClient(fresh, None), cand, config, start=USUAL_PRICE_START, checkpoint=other)
    assert fresh.calls == 3


@pytest.mark.slow
def test_the_real_local_model_drives_two_reflection_iterations(tmp_path: Path) -> None:
    """Qwen2.5-Coder (the rule model) answers the reflection template under the grammar:
    each iteration is asked, its answer carries a reflection and a rule over the offered
    features, and the second prompt quotes the first reflection and the memory."""
    backend = LocalBackend(data_dir() / "models", QWEN_CODER,
                           max_tokens=LLMSettings.rule_max_new_tokens)
    recorded = RecordingBackend(backend)
    client = LLMClient(recorded, ResponseCache(tmp_path / "cache.duckdb"), timeout_s=600)
    config = SearchConfig(iterations=2, patience=2, epsilon=NEVER_CONVERGED, check_retries=1)
    result = search(client, toy_candidates(wholesaler=2.0), config, encoder=WordEncoder())
    assert len(result.iterations) == 3
    assert all(i.template == "reflection_v1" or i.template == "restructure_v1"
               for i in result.iterations[1:])
    answered = [i for i in result.iterations[1:] if i.status in ("improved", "kept", "repeated")]
    assert answered and all(i.reflection.strip() for i in answered)
    first = result.iterations[1]
    if first.reflection:
        assert first.reflection in recorded.prompts[-1].user
    assert result.best_outcome.fitness >= result.iterations[0].fitness


def test_a_structure_already_fitted_is_not_fitted_again_and_the_next_prompt_says_so() -> None:
    """The model copies the current rule (as the embedded one does): the iteration is
    `repeated` (no fit, no extra call) and the next prompt quotes why (and, asked to,
    leaves out the JSON form that was copied)."""
    backend = ScriptedBackend([markup_rule(1.3), markup_rule(1.7), LIST_PRICE_RULE])
    config = SearchConfig(iterations=3, epsilon=NEVER_CONVERGED, hide_form_after_miss=True,
                          mutate_repeats=False, fitness=FitnessConfig(eta=0.0, lam=0.0))
    result = search(LLMClient(backend, None), toy_candidates(), config,
                    start=USUAL_PRICE_START, encoder=WordEncoder())
    assert backend.calls == 3
    assert [i.status for i in result.iterations] == ["expert", "improved", "repeated", "kept"]
    assert "same structure as the rule of iteration 1" in backend.prompts[2].user
    assert "JSON form" in backend.prompts[1].user and "JSON form" not in backend.prompts[2].user
    assert result.iterations[2].fitness is None and "list_price" in result.iterations[3].rule
    assert any(e.outcome.startswith("not fitted") for e in result.memory.entries)


def test_a_repeated_structure_is_mutated_into_a_new_one_and_fitted_the_same_on_a_rerun(
        ) -> None:
    """With `mutate_repeats` (the default), the copy is varied by one mutation into a
    structure not yet fitted, which is fitted without another model request; the draw is
    the iteration's own, so a second run varies it identically."""

    def run() -> tuple[SearchResult, ScriptedBackend]:
        backend = ScriptedBackend([markup_rule(1.3), markup_rule(1.7)])
        config = SearchConfig(iterations=2, patience=2, epsilon=NEVER_CONVERGED,
                              fitness=FitnessConfig(eta=0.0, lam=0.0))
        return search(LLMClient(backend, None), toy_candidates(), config,
                      start=USUAL_PRICE_START, encoder=WordEncoder()), backend

    (result, backend), (again, _) = run(), run()
    first, varied = result.iterations[1], result.iterations[2]
    assert backend.calls == 2
    assert varied.status in ("improved", "kept") and varied.fitness is not None
    assert varied.note.startswith(f"{MUTATED}, which repeated the structure of iteration 1")
    assert structure(parse_program(varied.rule, RULE_FEATURES)) != structure(
        parse_program(first.rule, RULE_FEATURES))
    assert again.iterations[2].rule == varied.rule


def test_two_backends_share_a_run_and_each_iteration_names_its_writer() -> None:
    first, second = (ScriptedBackend([markup_rule(1.3), markup_rule(1.1, base="list_price")],
                                     model="model-a"),
                     ScriptedBackend([markup_rule(1.0, base="market_price"),
                                      markup_rule(1.2, base="usual_price")], model="model-b"))
    second.name = "other"
    clients = make_clients(LLMSettings(token_budget=10_000), "rule_proposal",
                           (first, second))
    config = SearchConfig(iterations=4, patience=4, epsilon=NEVER_CONVERGED)
    result = search(clients, toy_candidates(), config, start=USUAL_PRICE_START,
                    encoder=WordEncoder())
    table = result.table()
    assert table["llm_backend"].to_list() == ["", "scripted", "other", "scripted", "other"]
    assert table["llm_model"].to_list() == ["", "model-a", "model-b", "model-a", "model-b"]
    assert first.calls == second.calls == 2
    assert clients[0].usage is clients[1].usage and len(clients[0].usage.records) == 4
    best = table.filter(table["is_best"]).row(0, named=True)
    assert best["llm_model"] in ("model-a", "model-b")


def test_a_text_form_search_records_the_corrected_names() -> None:
    text = ("def stock(row):\n    return row.hist_unit > 0\n\n"
            "def price(row):\n    return row.cots * 1.3\n")
    backend = ScriptedBackend([json.dumps({"reflection": "a markup", "rule": text})])
    config = SearchConfig(iterations=1, epsilon=NEVER_CONVERGED, rule_form="text")
    result = search(LLMClient(backend, None), toy_candidates(), config,
                    start=USUAL_PRICE_START, encoder=WordEncoder())
    step = result.iterations[1]
    assert step.status == "improved" and step.template == "reflection_text_v1"
    assert step.corrections == "read 'hist_unit' as 'hist_units'; read 'cots' as 'cost'"
    assert step.llm_backend == "scripted" and "row[\"cost\"]" in step.rule


def test_a_long_search_whose_first_iterations_were_not_scored_still_tabulates() -> None:
    """At N = 300, the first 100+ iterations can all be repeats (no fitness): the table's
    types come from the iteration's fields, not from the first rows' values."""
    repeats = [Iteration(n, "repeated", "", None, None, None, None, "") for n in range(150)]
    scored = Iteration(150, "kept", "rule", 112.9, 3.5, 0, -1.5, "", loss=0.08)
    table = SearchResult(None, None, iterations=[*repeats, scored]).table()
    assert table.height == 151 and table["fitness"].dtype == pl.Float64
    assert table.row(150, named=True)["fitness"] == 112.9
    assert SearchResult(None, None).table().columns[:2] == ["number", "status"]
