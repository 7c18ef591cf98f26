"""What the plans and evaluation assets share: the plan month, its candidates over the whole
catalogue, the accounts' history, the extracted locks and the searched rules.

Private to the asset modules; none of it reads the simulator's truth.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

import polars as pl
from dagster_duckdb import DuckDBResource

from assets._heldout import registered_demand, sources
from assets._tables import read_table_or_none
from deeprule.models.calibration import Calibration, CalibrationConfig, validation_calibration
from deeprule.models.split import shipment_months
from deeprule.optimize.accounts import AccountHistory, account_history
from deeprule.optimize.candidates import PlanCandidates, plan_candidates
from deeprule.optimize.deploy import deployed
from deeprule.optimize.plans import (
    Codes,
    PlanConfig,
    Plans,
    RuleRef,
    lock_columns,
    make_plans,
    priors_locks,
)
from deeprule.rules import Program, decide, parse_program
from deeprule.search.cards import card_id
from deeprule.search.objective import RULE_FEATURES
from resources.mlflow import MlflowResource

SINGLE_RULES = ("expert", "best")
"""What a search's table names: its iteration 0 (the expert rule) or its best."""


class CandidateRule(NamedTuple):
    """A rule the deployment chooses among: `which` (`SINGLE_RULES`) of the search asset
    `source`; `label` names its plans in the evaluation ("<label> rule + <optimizer>")."""

    label: str
    which: str
    source: str


DEPLOY_CANDIDATES = (CandidateRule("expert", "expert", "rule_search"),
                     CandidateRule("best", "best", "rule_search"),
                     CandidateRule("evolved", "best", "evolved_rule_search"))
"""The rules DeepRule deploys among, the expert rule first (a tie keeps it): the one home
of the candidates `assortment_plans` plans and `rule_plans_vs_truth` evaluates."""
RULE_CHOICES = ("deployed", "best", "expert")
"""`deployed`: of `DEPLOY_CANDIDATES`, the rule whose plan the model predicts to earn the
most (deeprule/optimize/deploy.py); `best`: rule_search's best by fitness; `expert`: the
expert rule (rule_search's iteration 0)."""


@dataclass(frozen=True)
class PlanInputs:
    """Everything a plan of one month is made from."""

    month: date
    plan: PlanCandidates
    codes: Codes
    history: AccountHistory
    locks: pl.DataFrame | None
    expenses_found: bool
    calibration: Calibration | None
    """Fitted on the model's validation months (None: calibration off)."""


def plan_month(months: list[date], test: list[date], chosen: str | None) -> date:
    """The configured month, else the first held-out month, else the month after the last."""
    if chosen:
        return date.fromisoformat(chosen)
    if test:
        return min(test)
    last = max(months)
    return date(last.year + last.month // 12, last.month % 12 + 1, 1)


def plan_inputs(mlflow: MlflowResource, duckdb: DuckDBResource, demand_model: pl.DataFrame,
                month: str | None, calibration: CalibrationConfig) -> PlanInputs:
    """Candidates of every customer x launched SKU for the plan month, their predictions
    calibrated on the model's validation months, and their history."""
    _, scorer, split = registered_demand(mlflow, demand_model)
    tables = sources(duckdb)
    when = plan_month(shipment_months(tables.shipments), split.test, month)
    customers = read_table_or_none(duckdb, "customers")
    who = None if customers is None else customers["customer_id"]
    fitted = validation_calibration(tables, scorer, split.validation, calibration)
    plan = plan_candidates(tables, scorer, when, who, fitted)
    codes = Codes.of(plan.rows)
    expenses = read_table_or_none(duckdb, "expenses")
    history = account_history(tables.shipments, tables.skus, expenses, codes.customers,
                              codes.categories, when)
    return PlanInputs(when, plan, codes, history, extracted_locks(duckdb, when),
                      expenses is not None and not expenses.is_empty(), fitted)


def extracted_locks(duckdb: DuckDBResource, month: date) -> pl.DataFrame | None:
    """customer_id, sku_id, min_units, doc_id of the locks stated before `month` (the
    priors' snapshot as that month began; None: no priors yet)."""
    return priors_locks(read_table_or_none(duckdb, "customer_priors_by_month"), month)


def searched_rule(rule_search: pl.DataFrame, which: str, source: str = "rule_search"
                  ) -> tuple[Program, RuleRef]:
    """A search's best rule or the expert rule (iteration 0), parsed from its audit text;
    `source` names the search asset the table came from."""
    if which not in SINGLE_RULES:
        raise ValueError(f"unknown rule {which!r}: choose one of {SINGLE_RULES}")
    row = (rule_search.filter(pl.col("is_best")) if which == "best" else rule_search.head(1)
           ).row(0, named=True)
    return (parse_program(row["rule"], RULE_FEATURES),
            RuleRef(f"{source} iteration {row['number']}", card_id(row["rule"])))


def plans_of(inputs: PlanInputs, rule_search: pl.DataFrame, which: str, config: PlanConfig,
             method: str | None = None, source: str = "rule_search") -> Plans:
    """One rule's plans for every customer by `method` (default: the config's)."""
    return _planned(inputs, *searched_rule(rule_search, which, source), config, method)


class ChosenPlans(NamedTuple):
    """The plans of the chosen rule, its id, and each rule considered (rule_id,
    predicted_profit, optimizer_seconds; the expert rule first)."""

    plans: Plans
    rule_id: str
    considered: pl.DataFrame


def chosen_plans(inputs: PlanInputs, searches: Mapping[str, pl.DataFrame], which: str,
                 config: PlanConfig) -> ChosenPlans:
    """The plans of the rule `which` (one of `RULE_CHOICES`); `searches`: each search's
    table by its asset's name. `deployed` plans every `DEPLOY_CANDIDATES` rule (a rule
    text once, however often it is named: the first name keeps it) and keeps the one
    `deployed` picks; `best` and `expert` plan that candidate alone."""
    if which not in RULE_CHOICES:
        raise ValueError(f"unknown rule {which!r}: choose one of {RULE_CHOICES}")
    rules = [rule for rule in DEPLOY_CANDIDATES if which in ("deployed", rule.label)]
    considered: dict[str, Plans] = {}
    versions: set[str] = set()
    for rule in rules:
        program, ref = searched_rule(searches[rule.source], rule.which, rule.source)
        if ref.version not in versions:  # the same rule text is the same plan
            versions.add(ref.version)
            considered[ref.rule_id] = _planned(inputs, program, ref, config)
    table = pl.DataFrame({"rule_id": list(considered),
                          "predicted_profit": [p.predicted_profit for p in considered.values()],
                          "optimizer_seconds": [p.seconds for p in considered.values()]})
    rule_id = table.select(deployed("rule_id")).item()
    return ChosenPlans(considered[rule_id], rule_id, table)


def _planned(inputs: PlanInputs, program: Program, ref: RuleRef, config: PlanConfig,
             method: str | None = None) -> Plans:
    decisions = decide(program, inputs.plan.cand.columns)
    return make_plans(inputs.plan, decisions, inputs.codes, inputs.history,
                      lock_columns(inputs.plan.rows, inputs.locks), ref, config, method)
