"""Group `plans`: the deployed rule becomes per-customer assortment-and-price plans.

`assortment_plans` (one row per plan line) and `plan_customers` (one row per
customer: planned or why not, target and plan value, violations) for the plan
month — the first held-out month of the registered demand model, or the month
after the last shipments. Candidates are every customer x launched SKU
(deeprule/optimize/candidates.py), their predictions calibrated on the model's
validation months (deeprule/models/calibration.py). The rule is the one DeepRule deploys
(of the expert rule and each search's best, the one whose plan the model predicts to earn
the most: deeprule/optimize/deploy.py), or the one configured; it makes pairs eligible and
prices them, the extracted locks stated before the plan month (customer_priors_by_month) are
honoured, and the optimizer decides units: the exact per-customer MILP by default, or the
paper's Appendix E heuristic (deeprule/optimize/). The check fails the plan on any
hard-constraint violation. docs/plans.md.
"""

import time

import dagster as dg
import polars as pl
from dagster_duckdb import DuckDBResource
from pydantic import Field

from assets._heldout import SOURCE_DEPS
from assets._metadata import frame_metadata, markdown_preview
from assets._planning import RULE_CHOICES, chosen_plans, plan_inputs
from assets._tables import read_table_or_none
from deeprule.models.calibration import Calibration
from deeprule.optimize.plans import PlanConfig
from resources.mlflow import MlflowResource

GROUP = "plans"
DEFAULTS = PlanConfig()
PLAN_DEPS = [*SOURCE_DEPS, dg.AssetKey("customers"), dg.AssetKey("expenses")]


class AssortmentPlansConfig(dg.Config):
    """Which rule, which optimizer, which month (defaults in deeprule.optimize.plans)."""

    rule: str = Field(default=RULE_CHOICES[0], description=(
        "'deployed' (of the expert rule and each search's best, the one whose plan the model "
        "predicts to earn the most), 'best' (rule_search's, by fitness) or 'expert'."))
    method: str = Field(default=DEFAULTS.method, description="'appendix_e' or 'milp'.")
    price_factors: list[float] = Field(
        default=list(DEFAULTS.price_factors),
        description="The exact optimizer's prices: the rule's price times each factor.")
    month: str | None = Field(default=None, description="Plan month (YYYY-MM-01); default: "
                              "the first held-out month, else the month after the last.")
    calibrate: bool = Field(default=DEFAULTS.calibration.enabled, description=(
        "Calibrate the predictions on the model's validation months (new-pair prior, "
        "isotonic per segment; deeprule/models/calibration.py) before optimizing."))

    def plan_config(self) -> PlanConfig:
        return PlanConfig(method=self.method, price_factors=tuple(self.price_factors)
                          ).calibrated(self.calibrate)


@dg.multi_asset(
    group_name=GROUP, deps=PLAN_DEPS, can_subset=False,
    outs={
        "assortment_plans": dg.AssetOut(kinds={"polars", "duckdb"}, description=(
            "One row per recommended line: customer, SKU, units, price, predicted units / "
            "revenue / profit, the rule (id, version) that made it eligible and priced it, "
            "and a one-line reason.")),
        "plan_customers": dg.AssetOut(kinds={"polars", "duckdb"}, description=(
            "One row per customer: planned or why not (no history, infeasible with the "
            "reason), target and plan value, predicted profit, each hard-constraint "
            "violation.")),
    },
)
def assortment_plans(config: AssortmentPlansConfig, mlflow: MlflowResource,
                     duckdb: DuckDBResource, demand_model: pl.DataFrame,
                     rule_search: pl.DataFrame, evolved_rule_search: pl.DataFrame):
    started = time.perf_counter()
    plan_config = config.plan_config()
    inputs = plan_inputs(mlflow, duckdb, demand_model, config.month, plan_config.calibration)
    searches = {"rule_search": rule_search, "evolved_rule_search": evolved_rule_search}
    plans, rule_id, considered = chosen_plans(inputs, searches, config.rule, plan_config)
    customers = plans.customers.with_columns(month=pl.lit(inputs.month, dtype=pl.Date))
    planned = customers.filter(pl.col("status") == "optimal")
    statuses = customers.group_by("status").len().sort("status")
    seconds = time.perf_counter() - started
    common = {"plan_month": inputs.month.isoformat(), "method": config.method,
              "rule": config.rule,
              "optimizer_seconds": round(float(considered["optimizer_seconds"].sum()), 3)}
    yield dg.Output(plans.lines, output_name="assortment_plans", metadata=frame_metadata(
        plans.lines, seconds, **common, candidates=inputs.plan.rows.height,
        customers_planned=planned.height,
        predicted_profit=round(plans.predicted_profit, 2),
        rule_id=rule_id,
        rules_considered=dg.MetadataValue.md(markdown_preview(considered,
                                                              rows=considered.height)),
        violations=int(planned["violations"].sum()),
        expenses=("fee ratios from the expenses table" if inputs.expenses_found
                  else "no expenses table: every fee ratio is 0"),
        locks=("no customer_priors yet: no locks" if inputs.locks is None
               else f"{inputs.locks.height} extracted locks"),
        calibration=calibration_metadata(inputs.calibration),
    ))
    yield dg.Output(customers, output_name="plan_customers", metadata=frame_metadata(
        customers, seconds, **common,
        statuses=dg.MetadataValue.md(markdown_preview(statuses, rows=statuses.height)),
        without_plan=dg.MetadataValue.md(markdown_preview(
            customers.filter(pl.col("status") != "optimal").select(
                "customer_id", "status", "why_no_plan"), rows=20)),
    ))


def calibration_metadata(calibration: Calibration | None) -> dg.MetadataValue | str:
    """The validation fit per segment (rows, predicted vs observed units) and the sales tiers
    the MILP recommends into, or why none."""
    if calibration is None:
        return "off: the optimizers read the demand model's units as they are"
    table = calibration.summary()
    return dg.MetadataValue.md(markdown_preview(table, rows=table.height)
                               + f"\n\nSales tiers: {calibration.tiers.describe()}.")


@dg.asset_check(asset=dg.AssetKey("plan_customers"), name="no_hard_constraint_violation",
                blocking=True, description="Every planned customer meets the hard constraints: "
                "<= 5 SKUs per primary category, >= 2 categories, purchase value within the "
                "band, locks honoured.")
def no_hard_constraint_violation(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    table = read_table_or_none(duckdb, "plan_customers")
    if table is None:
        return dg.AssetCheckResult(passed=False, metadata={"error": "plan_customers missing"})
    bad = table.filter(pl.col("violations") > 0)
    kinds = {k: int(table[k].sum()) for k in ("over_sku_cap", "too_few_categories",
                                               "outside_value_band", "locks_missed")}
    return dg.AssetCheckResult(passed=bad.is_empty(), metadata={
        "customers_violating": bad.height, **kinds})
