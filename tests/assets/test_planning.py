"""Which rule `assortment_plans` plans: the deployed one (deeprule/optimize/deploy.py) of the
expert rule and each search's best, or the one configured."""

from dataclasses import dataclass, field

import polars as pl
import pytest

from assets import _planning
from assets._planning import chosen_plans
from deeprule.optimize.plans import PlanConfig, Plans, RuleRef
from deeprule.rules import Program
from deeprule.search.reflect import EXPERT_RULE


@dataclass
class FakePlanner:
    """Stands in for the optimizer: each rule's plan predicts the profit set for its id (an
    unplanned customer's profit never counts); records which rules were planned."""

    profits: dict[str, float]
    planned: list[str] = field(default_factory=list)

    def __call__(self, inputs: object, program: Program, ref: RuleRef, config: PlanConfig,
                 method: str | None = None) -> Plans:
        self.planned.append(ref.rule_id)
        customers = pl.DataFrame({"status": ["optimal", "infeasible"],
                                  "pred_profit": [self.profits[ref.rule_id], 1e9]})
        return Plans(pl.DataFrame({"rule_id": [ref.rule_id]}), customers, None, 0.0)


def _search(best: int, markups: tuple[float, ...]) -> pl.DataFrame:
    """A search's table, one rule per markup on the usual price (iteration 0 the expert
    rule's 1.0 in rule_search), `best` the iteration marked best."""
    return pl.DataFrame({"number": range(len(markups)),
                         "rule": [EXPERT_RULE.replace("* 1.0", f"* {m}") for m in markups],
                         "is_best": [n == best for n in range(len(markups))]})


RULE_SEARCH = (1.0, 1.1, 1.2)
EVOLVED = (1.0, 1.3, 1.4)
"""The evolution starts from the expert rule too (its text may be the same)."""


def _choose(monkeypatch: pytest.MonkeyPatch, profits: dict[str, float], best: int = 2,
            evolved_best: int = 2, which: str = "deployed"
            ) -> tuple[_planning.ChosenPlans, FakePlanner]:
    """Choose among rule_search and evolved_rule_search; `profits` by rule id, each rule
    not named predicted at 0."""
    ids = [f"{s} iteration {n}" for s in ("rule_search", "evolved_rule_search") for n in range(3)]
    planner = FakePlanner({i: 0.0 for i in ids} | profits)
    monkeypatch.setattr(_planning, "_planned", planner)
    searches = {"rule_search": _search(best, RULE_SEARCH),
                "evolved_rule_search": _search(evolved_best, EVOLVED)}
    return chosen_plans(None, searches, which, PlanConfig()), planner


EXPERT, BEST, EVOLVED_BEST = ("rule_search iteration 0", "rule_search iteration 2",
                              "evolved_rule_search iteration 2")


@pytest.mark.parametrize(("profits", "deployed"), [
    ({EXPERT: 100.0, BEST: 120.0, EVOLVED_BEST: 90.0}, BEST),  # the search's plan earns more
    ({EXPERT: 100.0, BEST: 90.0, EVOLVED_BEST: 90.0}, EXPERT),  # ahead on fitness only
    ({EXPERT: 100.0, BEST: 100.0, EVOLVED_BEST: 100.0}, EXPERT),  # a tie keeps the expert
    ({EXPERT: 100.0, BEST: 120.0, EVOLVED_BEST: 130.0}, EVOLVED_BEST),
])
def test_the_deployed_rule_is_the_one_whose_plan_the_model_values_most(
        monkeypatch: pytest.MonkeyPatch, profits: dict[str, float], deployed: str) -> None:
    chosen, planner = _choose(monkeypatch, profits)
    assert chosen.rule_id == deployed
    assert chosen.plans.predicted_profit == profits[deployed]
    assert planner.planned == [EXPERT, BEST, EVOLVED_BEST]
    assert chosen.considered.drop("optimizer_seconds").to_dicts() == [
        {"rule_id": rule_id, "predicted_profit": profit} for rule_id, profit in profits.items()]


def test_a_rule_text_named_twice_is_planned_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both searches kept their start, the expert rule's text: one plan, the expert's."""
    chosen, planner = _choose(monkeypatch, {EXPERT: 100.0}, best=0, evolved_best=0)
    assert planner.planned == [EXPERT] and chosen.rule_id == EXPERT


@pytest.mark.parametrize(("which", "planned"), [("best", BEST), ("expert", EXPERT)])
def test_a_configured_rule_is_planned_alone(monkeypatch: pytest.MonkeyPatch, which: str,
                                            planned: str) -> None:
    chosen, planner = _choose(monkeypatch, {EXPERT: 500.0, EVOLVED_BEST: 900.0}, which=which)
    assert planner.planned == [chosen.rule_id] == [planned]


def test_an_unknown_rule_choice_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="unknown rule 'newest'.*deployed"):
        _choose(monkeypatch, {}, which="newest")
