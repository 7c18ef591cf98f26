"""The program database: scored rules by canonical form, a budget never spent twice, islands."""

import pytest

from deeprule.rules import parse_program
from deeprule.search.database import (
    ProgramDatabase,
    fitting_scorer,
    plain_scorer,
    record,
    started_result,
)
from deeprule.search.objective import RULE_FEATURES, FitnessConfig
from tests.helpers.rules import toy_candidates

FITNESS = FitnessConfig(eta=0.0, lam=0.05)


def rule(markup: float, layout: str = "row.cost * {m}") -> str:
    return ("def stock(row):\n    return row.hist_units > 0.0\n"
            f"def price(row):\n    return {layout.format(m=markup)}\n")


def program(markup: float, layout: str = "row.cost * {m}"):
    return parse_program(rule(markup, layout), RULE_FEATURES)


def test_a_rule_already_scored_costs_no_budget_even_written_differently() -> None:
    calls = []
    scorer = plain_scorer(toy_candidates(), FITNESS)
    db = ProgramDatabase(lambda p: calls.append(p) or scorer(p), budget=2)
    first = db.add(program(1.3), author="local/qwen")
    again = db.add(program(1.3, 'row["cost"]  *  {m}'), author="openai/gpt")
    assert again is first and len(calls) == 1 and db.spent == 1
    assert first.author == "local/qwen"  # the first writer keeps the credit
    assert db.add(program(1.5), author="x") is not None
    assert db.exhausted and db.add(program(1.7), author="x") is None  # new, no budget
    assert db.add(program(1.5), author="y") is not None  # known: still answered


def test_the_fitting_scorer_stores_the_fitted_rule_under_the_proposed_form() -> None:
    cand = toy_candidates()
    db = ProgramDatabase(fitting_scorer(cand, FITNESS, 80), budget=3)
    entry = db.add(program(1.1), author="rl")
    assert entry.key == db.canonical(program(1.1))
    assert abs(entry.program.constants[-1] - 1.5) < 0.02  # fitted to the toy optimum
    assert entry.fitness > plain_scorer(cand, FITNESS)(program(1.1))[1].fitness + 1.0


def test_islands_keep_their_own_members_and_migration_shares_each_leader() -> None:
    db = ProgramDatabase(plain_scorer(toy_candidates(), FITNESS), budget=10, islands=2, seed=0)
    for markup, island in ((1.1, 0), (1.45, 0), (1.2, 1), (1.3, 1)):
        db.add(program(markup), author="t", island=island)
    assert [e.program.constants[-1] for e in db.members(0)] == [1.45, 1.1]
    assert db.best(1).program.constants[-1] == 1.3
    assert {db.sample_parent(1).program.constants[-1] for _ in range(20)} <= {1.2, 1.3}
    db.migrate()
    assert db.best(1).program.constants[-1] == 1.45
    assert db.best(0).program.constants[-1] == 1.45  # island 1's leader is worse: no change
    assert {e.program.constants[-1] for e in db.members(0)} == {1.1, 1.45, 1.3}
    with pytest.raises(ValueError, match="outside"):
        db.add(program(1.6), author="t", island=2)


def test_parent_sampling_favours_fit_rules_but_not_only_the_best() -> None:
    db = ProgramDatabase(plain_scorer(toy_candidates(), FITNESS), budget=10, seed=1)
    for markup in (1.05, 1.1, 1.2, 1.3, 1.4, 1.5):
        db.add(program(markup), author="t")
    picks = [db.sample_parent().program.constants[-1] for _ in range(200)]
    assert picks.count(1.5) > picks.count(1.05) + 40
    assert len(set(picks)) >= 3


def test_state_round_trips_and_the_table_names_each_author() -> None:
    cand = toy_candidates()
    db = ProgramDatabase(fitting_scorer(cand, FITNESS, 40), budget=5, islands=2)
    db.add(program(1.2), author="expert")
    db.add(program(1.1, "row.usual_price * {m}"), author="local/qwen", parent="p")
    again = ProgramDatabase.restored(db.state(), cand, FITNESS, db.scorer, budget=5, islands=2)
    assert [e.text for e in again.members()] == [e.text for e in db.members()]
    assert [e.fitness for e in again.members()] == pytest.approx([e.fitness for e in db.members()])
    assert again.knows(program(1.2)) and again.spent == 2
    table = db.table()
    assert table["author"].to_list() == ["expert", "local/qwen"]
    assert db.authors() == {"expert": 1, "local/qwen": 1}


def test_records_carry_the_best_so_far_and_mark_real_gains_only() -> None:
    db = ProgramDatabase(plain_scorer(toy_candidates(), FITNESS), budget=5)
    result = started_result(db.add(program(1.2), author="expert"), 0.0)
    better, worse = db.add(program(1.45), author="t"), db.add(program(1.05), author="t")
    record(result, better, "kept", "", 0.0)
    record(result, worse, "kept", "", 0.0)
    record(result, None, "failed", "", 0.0)
    assert [i.status for i in result.iterations] == ["expert", "improved", "kept", "failed"]
    assert [i.fitness for i in result.iterations][1:] == [better.fitness] * 3
    assert result.best_number == 1 and result.best is better.program


def test_a_restored_database_draws_the_parents_the_original_would_have() -> None:
    cand = toy_candidates()
    db = ProgramDatabase(plain_scorer(cand, FITNESS), budget=10, seed=4)
    for markup in (1.05, 1.2, 1.3, 1.4, 1.5):
        db.add(program(markup), author="t")
    [db.sample_parent() for _ in range(7)]  # the stream has moved on
    again = ProgramDatabase.restored(db.state(), cand, FITNESS, db.scorer, budget=10, seed=4)
    assert [again.sample_parent().key for _ in range(20)] == [
        db.sample_parent().key for _ in range(20)]


def test_keep_only_sets_an_islands_population_and_forgets_no_rule() -> None:
    db = ProgramDatabase(plain_scorer(toy_candidates(), FITNESS), budget=10, islands=2)
    entries = [db.add(program(m), author="t", island=0) for m in (1.1, 1.3, 1.5)]
    db.keep_only(0, entries[1:])
    assert {e.key for e in db.members(0)} == {e.key for e in entries[1:]}
    assert db.knows(program(1.1)) and db.spent == 3
    assert db.add(program(1.1), author="t", island=0) is entries[0]  # free, back in
