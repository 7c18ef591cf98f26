"""One seed of `pipelines.compare` with the expert rule fitted and decided: the setup the
plan benchmarks share (the truth only scores, through the constrained oracle)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from deeprule.evaluate.compare import CompareSettings, SeedWorld
    from deeprule.optimize.candidates import PlanCandidates
    from deeprule.optimize.plans import Plans
    from deeprule.rules import Decisions


@dataclass(frozen=True)
class ExpertSeed:
    """A seed's world and planning inputs, the expert rule's decisions on its plan
    candidates, and the constrained oracle's realized profit (the share's denominator)."""

    settings: CompareSettings
    sw: SeedWorld
    decisions: Decisions
    oracle_profit: float


def expert_seed(preset: str, seed: int) -> ExpertSeed:
    """World seed 7 + `seed` (as `pipelines.compare`), its demand model and calibration,
    the expert rule fitted on the searched rows and decided on the plan candidates."""
    from deeprule.evaluate.compare import CompareSettings, seed_world
    from deeprule.evaluate.realized import constrained_oracle
    from deeprule.rules import decide, parse_program
    from deeprule.search.objective import RULE_FEATURES
    from deeprule.search.reflect import EXPERT_RULE, SearchConfig, fitted

    settings = CompareSettings(preset=preset)
    sw = seed_world(settings, seed)
    expert, _ = fitted(parse_program(EXPERT_RULE, RULE_FEATURES), sw.search_rows,
                       SearchConfig(fitness=settings.fitness))
    oracle = constrained_oracle(sw.world, sw.month, settings.baselines.oracle)
    return ExpertSeed(settings, sw, decide(expert, sw.plan.cand.columns),
                      float(np.sum(oracle.lines["realized_profit"].to_numpy())))


def realized(setup: ExpertSeed, plans: Plans) -> dict[str, float]:
    """The plans' realized profit under the true demand, its share of the oracle, and the
    customers with a violated constraint: the columns every plan benchmark prints."""
    from deeprule.evaluate.realized import realize

    profit = float(realize(setup.sw.world, plans.lines)["realized_profit"].sum())
    return {"realized_profit_m": profit / 1e6, "share_of_oracle": profit / setup.oracle_profit,
            "violating_customers": int((plans.customers["violations"] > 0).sum())}


def expert_milp(setup: ExpertSeed, plan: PlanCandidates) -> Plans:
    """The expert rule's MILP plans on `plan` (PlanCandidates)."""
    from deeprule.evaluate.compare import EXPERT
    from deeprule.optimize.plans import RuleRef, make_plans

    sw = setup.sw
    return make_plans(plan, setup.decisions, sw.codes, sw.history, sw.locks,
                      RuleRef(EXPERT, "bench"), setup.settings.plan, "milp")
