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


def _search(best: int) -> pl.DataFrame:
    """A search's table: iteration 0 is the expert rule, `best` the one marked best."""
    return pl.DataFrame({"number": [0, 1, 2], "rule": [EXPERT_RULE] * 3,
                         "is_best": [n == best for n in range(3)]})


def _choose(monkeypatch: pytest.MonkeyPatch, profits: dict[int, float], best: int,
            which: str = "deployed", evolved: dict[int, float] | None = None
            ) -> tuple[_planning.ChosenPlans, FakePlanner]:
    """Choose among rule_search (and evolved_rule_search when `evolved` gives its rules'
    predicted profits, its best the last)."""
    planner = FakePlanner({f"rule_search iteration {n}": p for n, p in profits.items()})
    searches = {"rule_search": _search(best)}
    if evolved:
        planner.profits |= {f"evolved_rule_search iteration {n}": p for n, p in evolved.items()}
        searches["evolved_rule_search"] = _search(max(evolved))
    monkeypatch.setattr(_planning, "_planned", planner)
    return chosen_plans(None, searches, which, PlanConfig()), planner


@pytest.mark.parametrize(("profits", "deployed"), [
    ({0: 100.0, 2: 120.0}, 2),  # the search's best plan is predicted to earn more
    ({0: 100.0, 2: 90.0}, 0),  # ahead on fitness, behind in the plan month: the expert rule
    ({0: 100.0, 2: 100.0}, 0),  # a tie keeps the expert rule
])
def test_the_deployed_rule_is_the_one_whose_plan_the_model_values_most(
        monkeypatch: pytest.MonkeyPatch, profits: dict[int, float], deployed: int) -> None:
    chosen, planner = _choose(monkeypatch, profits, best=2)
    assert chosen.rule_id == f"rule_search iteration {deployed}"
    assert chosen.plans.predicted_profit == profits[deployed]
    assert planner.planned == ["rule_search iteration 0", "rule_search iteration 2"]
    assert chosen.considered.drop("optimizer_seconds").to_dicts() == [
        {"rule_id": f"rule_search iteration {n}", "predicted_profit": p}
        for n, p in profits.items()]


@pytest.mark.parametrize(("evolved", "deployed"), [
    (130.0, "evolved_rule_search iteration 2"), (110.0, "rule_search iteration 2")])
def test_each_search_s_best_is_a_candidate(monkeypatch: pytest.MonkeyPatch, evolved: float,
                                           deployed: str) -> None:
    chosen, planner = _choose(monkeypatch, {0: 100.0, 2: 120.0}, best=2, evolved={2: evolved})
    assert chosen.rule_id == deployed
    assert planner.planned == ["rule_search iteration 0", "rule_search iteration 2",
                               "evolved_rule_search iteration 2"]


def test_a_search_that_kept_its_start_is_planned_once(monkeypatch: pytest.MonkeyPatch) -> None:
    chosen, planner = _choose(monkeypatch, {0: 100.0}, best=0)
    assert chosen.rule_id == "rule_search iteration 0" and len(planner.planned) == 1


@pytest.mark.parametrize(("which", "planned"), [("best", 2), ("expert", 0)])
def test_a_configured_rule_is_planned_alone(monkeypatch: pytest.MonkeyPatch, which: str,
                                            planned: int) -> None:
    chosen, planner = _choose(monkeypatch, {0: 500.0, 2: 1.0}, best=2, which=which)
    assert planner.planned == [chosen.rule_id] == [f"rule_search iteration {planned}"]


def test_an_unknown_rule_choice_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="unknown rule 'newest'.*deployed"):
        _choose(monkeypatch, {0: 1.0}, best=0, which="newest")
