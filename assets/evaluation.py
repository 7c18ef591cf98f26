"""Group `evaluation`: every method scored against the simulator's truth. EVALUATION ONLY.

The only asset module (with `assets/simulator.py`) that may read the truth:
the `world` resource's hidden demand and the `simulator` tables
(`tests/test_layers.py` enforces it). With user data there is no truth and
every asset here writes an empty table. The math lives in deeprule/evaluate/.

- `extraction_vs_truth`: document extractions against what each document states;
- `scorers_vs_truth`: the scorers against the true demand on the held-out months;
- `oracle_plan`: the constrained oracle of the plan month (the upper bound);
- `rule_plans_vs_truth`: the plans of the searched rules realized under the true demand,
  each with its gap to the oracle; its check warns when a plan's predicted profit is far
  from what it realized.
"""

import json
import time
from dataclasses import replace

import dagster as dg
import polars as pl
from dagster_duckdb import DuckDBResource
from matplotlib.figure import Figure
from pydantic import Field

from assets._config import from_domain
from assets._heldout import SOURCE_DEPS, held_out_frame, registered_demand, sources
from assets._metadata import frame_metadata, markdown_preview, no_truth, table_markdown
from assets._planning import DEPLOY_CANDIDATES, plan_inputs, plans_of
from assets._plots import plot_metadata
from assets._tables import read_table_or_none
from assets.plans import PLAN_DEPS
from deeprule.evaluate.baselines import (
    BASELINES,
    BaselineSettings,
    baseline_month,
    baseline_outcomes,
)
from deeprule.evaluate.compare import (
    COMPARISON_CONVERGENCE,
    COMPARISON_ROWS,
    COMPARISON_RUNS,
    component_losses,
    convergence_series,
    deployment_check,
    headline,
    searcher_table,
    summary_display,
)
from deeprule.evaluate.extraction import score_extractions
from deeprule.evaluate.realized import (
    OUTCOME_SCHEMA,
    comparison,
    constrained_oracle,
    logged_lines,
    outcome,
    plan_outcome,
    realize,
)
from deeprule.evaluate.scorers import (
    WITH_DOCUMENTS,
    WITHOUT_DOCUMENTS,
    Truth,
    assess,
    comparison_table,
    document_ablation,
    elasticity_cells,
    truth_for,
)
from deeprule.features.documents import document_inputs
from deeprule.models import registry
from deeprule.models.demand import DemandConfig, DemandScorer
from deeprule.models.frames import ScoringFrame, SourceTables
from deeprule.models.price import PriceResponse
from deeprule.models.split import TimeSplit
from deeprule.optimize.deploy import deployed
from deeprule.optimize.plans import METHODS, PlanConfig
from deeprule.plots import (
    convergence_curves,
    elasticity_scatter,
    metric_bars,
    sales_profit_scatter,
)
from deeprule.priors.extract import OK
from deeprule.priors.facts import extracted_facts
from deeprule.verdicts import Verdict, prediction_near_realized
from resources.mlflow import MlflowResource
from resources.world import WorldResource

GROUP = "evaluation"

TARGETS = {"wape": 0.25, "elasticity_rank_corr": 0.6}
"""The issue's targets on held-out months of the demo world."""
PREDICTION_GAP_BOUND = TARGETS["wape"]
"""A plan's predicted profit may miss its realized profit by the line-level error we accept
from the demand model, no more (docs/operating.md, "Checks")."""
TRUTH_DEPS = [*SOURCE_DEPS, dg.AssetKey("true_customer_traits"), dg.AssetKey("true_sku_params")]
"""What an evaluation asset on the held-out months reads: the sources and, for lineage, the
simulator's truth (which it gets through the `world` resource)."""


@dg.asset(group_name=GROUP, kinds={"polars", "duckdb"}, pool="duckdb",
          deps=[dg.AssetKey("true_document_facts")],
          description="Extraction quality per field against what each document truly states "
          "(accuracy or F1, with counts and coverage), for the backend that extracted.")
def extraction_vs_truth(
    document_extractions: pl.DataFrame, duckdb: DuckDBResource
) -> dg.Output[pl.DataFrame]:
    started = time.perf_counter()
    truth = read_table_or_none(duckdb, "true_document_facts")
    if truth is None or truth.is_empty():
        return no_truth(pl.DataFrame())
    df = score_extractions(extracted_facts(document_extractions), truth)
    models = document_extractions.filter(pl.col("status") == OK).select(
        pl.concat_str("backend", "model", separator=":")).unique().to_series().to_list()
    return dg.Output(df, metadata=frame_metadata(
        df, time.perf_counter() - started, extracted_by=json.dumps(sorted(models)),
        quality=dg.MetadataValue.md(markdown_preview(df, rows=len(df))),
        quality_plot=plot_metadata(metric_bars(
            [f"{r['doc_type']} · {r['field']} ({r['metric']})" for r in df.iter_rows(named=True)],
            df["value"].to_list(), "Extraction vs document truth"),
            f"Per-field accuracy / F1 of {', '.join(sorted(models)) or 'no model'}"),
        mean_score=round(float(df["value"].drop_nulls().mean() or 0.0), 4),
    ))


class ScorerQualityConfig(dg.Config):
    """Whether to measure what the document features are worth (a second demand fit)."""

    document_ablation: bool = Field(
        default=True, description="Train the registered demand model's settings again without "
        "the document features and report held-out accuracy with and without them.")


@dg.asset(
    group_name=GROUP, kinds={"polars", "duckdb"}, pool="duckdb", deps=TRUTH_DEPS,
    description="Scorers against the simulator's truth on the held-out test months: WAPE and "
    "MAE of units, Spearman correlation of implied vs true elasticity per customer x "
    "category, and the uplift error of price moves, for the demand model, the registered "
    "uplift variant, its ablations and the naive fit, side by side; and the demand model's "
    "held-out accuracy with and without the document features (metadata).",
)
def scorers_vs_truth(config: ScorerQualityConfig, mlflow: MlflowResource, world: WorldResource,
                     duckdb: DuckDBResource, demand_model: pl.DataFrame,
                     uplift_model: pl.DataFrame) -> dg.Output[pl.DataFrame]:
    started = time.perf_counter()
    if world.user_folder() is not None:
        return no_truth(comparison_table([]))
    _, scorer, split = registered_demand(mlflow, demand_model)
    tables = sources(duckdb)
    test = held_out_frame(duckdb, scorer, split, tables)
    truth = truth_for(world.world(), test)
    responses = {"demand": scorer.response(test)}
    rows = [assess("demand", test, responses["demand"], truth)]
    client = mlflow.client()
    for card in uplift_model.iter_rows(named=True):
        uplift = registry.load_uplift(client, registry.ModelRef(card["run_id"]))
        units, rate = uplift.responses(test)
        responses[f"uplift:{card['variant']}"] = units
        rows.append(assess(f"uplift:{card['variant']}", test, units, truth, rate))
    table = comparison_table(rows)
    ablation = (_document_ablation(world, tables, split, scorer, demand_model)
                if config.document_ablation else {"document_ablation": "off (config)"})
    return dg.Output(table, metadata=frame_metadata(
        table, time.perf_counter() - started, test_months=json.dumps(split.to_dict()["test"]),
        **_verdicts(table), comparison=dg.MetadataValue.md(table_markdown(table)),
        elasticity_plot=_elasticity_plot(responses, test, truth), **ablation,
    ))


def _document_ablation(world: WorldResource, tables: SourceTables, split: TimeSplit,
                       scorer: DemandScorer, demand_model: pl.DataFrame) -> dict[str, object]:
    """Held-out accuracy with and without the document features, or why it was not measured."""
    inputs = document_inputs(scorer.spec.high_columns)
    if tables.customer_priors is None or not inputs:
        return {"document_ablation": "skipped: the registered demand model has no document "
                "features (customer_priors_by_month not materialized when it trained)"}
    card = demand_model.row(0, named=True)
    if not card.get("config"):
        return {"document_ablation": "skipped: the demand model card predates stored settings; "
                "rematerialize demand_model"}
    config = DemandConfig.from_params(json.loads(card["config"]))
    table, seconds = document_ablation(world.world(), tables, split, config, scorer)
    by_model = {r["model"]: r for r in table.iter_rows(named=True)}
    out: dict[str, object] = {"document_ablation": dg.MetadataValue.md(table_markdown(table)),
                              "document_ablation_seconds": round(seconds, 2),
                              "document_features": json.dumps(inputs)}
    for suffix, name in (("with", WITH_DOCUMENTS), ("without", WITHOUT_DOCUMENTS)):
        for metric in ("wape", "mae", "elasticity_rank_corr", "candidate_wape",
                       "candidate_new_pair_wape"):
            value = by_model[name][metric]
            out[f"demand_{metric}_{suffix}_documents"] = (
                round(float(value), 4) if value is not None else "no such rows")
    return out


def _elasticity_plot(responses: dict[str, PriceResponse], frame: ScoringFrame,
                     truth: Truth) -> dg.MetadataValue:
    """Demand, the registered uplift (first card row) and the naive fit against truth."""
    shown = [name for i, name in enumerate(responses) if i < 2 or name == "uplift:naive"]
    logged = frame.column("unit_price")
    cells = {name: elasticity_cells(frame, responses[name].elasticity(logged), truth.elasticity)
             for name in shown}
    return plot_metadata(elasticity_scatter(cells),
                         "Elasticity per customer x category on the test months: model vs truth")


def _verdicts(table: pl.DataFrame) -> dict[str, object]:
    """The issue's targets, each as a number and a met / not met flag."""
    by_model = {r["model"]: r for r in table.iter_rows(named=True)}
    demand = by_model["demand"]
    uplift = table.filter(pl.col("model").str.starts_with("uplift:")).row(0, named=True)
    naive = by_model.get("uplift:naive")
    out: dict[str, object] = {
        "demand_wape": round(demand["wape"], 4),
        "demand_wape_target_met": demand["wape"] <= TARGETS["wape"],
        "demand_elasticity_rank_corr": round(demand["elasticity_rank_corr"], 4),
        "uplift_elasticity_rank_corr": round(uplift["elasticity_rank_corr"], 4),
        "elasticity_target_met": uplift["elasticity_rank_corr"] >= TARGETS["elasticity_rank_corr"],
    }
    if naive is not None:
        out["naive_elasticity_rank_corr"] = round(naive["elasticity_rank_corr"], 4)
        out["uplift_beats_naive"] = bool(
            uplift["elasticity_rank_corr"] > naive["elasticity_rank_corr"]
            and uplift["uplift_wape"] < naive["uplift_wape"])
    return out


@dg.asset(
    group_name=GROUP, kinds={"polars", "duckdb"}, pool="duckdb",
    deps=[*TRUTH_DEPS, dg.AssetKey("true_policy_locks")],
    description="The constrained oracle of the plan month: the exact per-customer MILP on the "
    "true demand at the truly best grid price per pair in [cost, list], over every launched "
    "SKU, under the hard constraints and the true locks; its lines realized (docs/plans.md).",
)
def oracle_plan(world: WorldResource, plan_customers: pl.DataFrame) -> dg.Output[pl.DataFrame]:
    started = time.perf_counter()
    if world.user_folder() is not None:
        return no_truth(pl.DataFrame())
    oracle = constrained_oracle(world.world(), plan_customers["month"][0])
    statuses = oracle.customers.group_by("status").len().sort("status")
    return dg.Output(oracle.lines, metadata=frame_metadata(
        oracle.lines, time.perf_counter() - started,
        plan_month=plan_customers["month"][0].isoformat(),
        solve_seconds=round(oracle.seconds, 3),
        true_profit=round(float(oracle.lines["realized_profit"].sum()), 2),
        violations=int(oracle.customers["violations"].fill_null(0).sum()),
        statuses=dg.MetadataValue.md(markdown_preview(statuses, rows=statuses.height)),
    ))


GAP_KEYS = {"logged_gap": "logged policy", "expert_gap": "expert rule + milp",
            "expert_heuristic_gap": "expert rule + appendix_e",
            "search_best_gap": "best rule + milp",
            "search_best_heuristic_gap": "best rule + appendix_e",
            "evolved_best_gap": "evolved rule + milp",
            "evolved_best_heuristic_gap": "evolved rule + appendix_e"}
"""Metadata key of each plan's gap to the oracle (the run summary reads some): unsuffixed,
the plans' default optimizer (the MILP); `_heuristic`, the Appendix E heuristic."""


class RulePlansConfig(dg.Config):
    """The exact optimizer's price options and the calibration, as in `assortment_plans`."""

    price_factors: list[float] = Field(default=list(PlanConfig().price_factors))
    calibrate: bool = Field(default=PlanConfig().calibration.enabled,
                            description="As in `assortment_plans`.")


@dg.asset(
    group_name=GROUP, kinds={"polars", "duckdb"}, pool="duckdb",
    deps=list(dict.fromkeys([*PLAN_DEPS, *TRUTH_DEPS])),
    description="Plans of the plan month realized under the true demand (one rule, "
    "docs/plans.md): logged policy, expert rule, the LLM search's best and the evolutionary "
    "search's best, each with the Appendix E heuristic and the exact MILP, the constrained "
    "oracle; units, revenue, profit, violations, gap to "
    "the oracle.",
)
def rule_plans_vs_truth(config: RulePlansConfig, mlflow: MlflowResource, world: WorldResource,
                        duckdb: DuckDBResource, demand_model: pl.DataFrame,
                        rule_search: pl.DataFrame, evolved_rule_search: pl.DataFrame,
                        plan_customers: pl.DataFrame, oracle_plan: pl.DataFrame
                        ) -> dg.Output[pl.DataFrame]:
    started = time.perf_counter()
    if world.user_folder() is not None:
        return no_truth(pl.DataFrame())
    truth = world.world()
    month = plan_customers["month"][0]
    plan_config = PlanConfig(price_factors=tuple(config.price_factors)).calibrated(
        config.calibrate)
    inputs = plan_inputs(mlflow, duckdb, demand_model, month.isoformat(),
                         plan_config.calibration)
    with_history = plan_customers.filter(pl.col("target_value").is_not_nan()
                                         & pl.col("target_value").is_not_null())["customer_id"]
    logged = realize(truth, logged_lines(truth, month).filter(
        pl.col("customer_id").is_in(with_history.implode())))
    n_history = with_history.len()
    rows = [outcome("logged policy", logged, logged["customer_id"].n_unique(),
                    n_history - logged["customer_id"].n_unique(), None)]
    searches = {"rule_search": rule_search, "evolved_rule_search": evolved_rule_search}
    for label, which, source in DEPLOY_CANDIDATES:
        for method in METHODS:
            plans = plans_of(inputs, searches[source], which, plan_config, method, source)
            mine = plans.customers.filter(pl.col("customer_id").is_in(with_history.implode()))
            rows.append(plan_outcome(f"{label} rule + {method}", realize(truth, plans.lines),
                                     mine))
    oracle_planned = oracle_plan["customer_id"].n_unique()
    oracle_violations = int(oracle_plan.unique("customer_id")["customer_violations"].sum())
    rows.append(outcome("constrained oracle", oracle_plan, oracle_planned,
                        n_history - oracle_planned, oracle_violations))
    table = comparison(rows, float(oracle_plan["realized_profit"].sum()))
    by_plan = {row["plan"]: row for row in table.iter_rows(named=True)}
    return dg.Output(table, metadata=frame_metadata(
        table, time.perf_counter() - started, plan_month=month.isoformat(),
        comparison=dg.MetadataValue.md(table_markdown(table)),
        **{key: round(by_plan[plan]["oracle_gap"], 4) for key, plan in GAP_KEYS.items()},
        oracle_profit=round(by_plan["constrained oracle"]["profit"], 2),
    ))


@dg.asset_check(asset=rule_plans_vs_truth, name="predicted_profit_near_realized",
                blocking=False, description="Each optimized plan's predicted profit within "
                f"{PREDICTION_GAP_BOUND:.0%} of the profit it realizes under the true demand "
                "(WARN: the plan is not wrong, its predicted profit is not to be trusted).")
def predicted_profit_near_realized(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    table = read_table_or_none(duckdb, "rule_plans_vs_truth")
    if table is None:
        verdict = Verdict(False, {"error": "rule_plans_vs_truth missing"})
    else:  # user data: an empty table, nothing to judge
        empty = pl.DataFrame(schema=OUTCOME_SCHEMA)
        verdict = prediction_near_realized(empty if table.is_empty() else table,
                                           PREDICTION_GAP_BOUND)
    return dg.AssetCheckResult(passed=verdict.passed, metadata=verdict.metadata,
                               severity=dg.AssetCheckSeverity.WARN)


RULE_PLANS = tuple(f"{rule.label} rule + {PlanConfig().method}" for rule in DEPLOY_CANDIDATES)
"""The default optimizer's plans of the rules DeepRule deploys among (`DEPLOY_CANDIDATES`,
as rule_plans_vs_truth names them): the headline plan is the one `deployed` picks, as
`assortment_plans` does, the expert rule first so that a search must beat it."""
ONLINE = BASELINES[:2]
"""The baselines that learn from market rounds (the others fit the history only)."""


class MethodComparisonConfig(dg.Config):
    """The baselines' seed and market (docs/baselines.md)."""

    seed: int = from_domain(BaselineSettings, "seed", "Seed of the baselines and their market.")
    market_pairs: str = from_domain(BaselineSettings, "market_pairs",
                                    "Which pairs answer the online baselines' market rounds.")
    all_pairs_too: bool = Field(default=True, description="Also run the online baselines with "
                                "every pair answering (a full-catalogue experiment), as rows of "
                                "their own.")


@dg.asset(
    group_name=GROUP, kinds={"polars", "duckdb", "mlflow"}, pool="duckdb",
    deps=list(dict.fromkeys([*TRUTH_DEPS, dg.AssetKey("true_policy_locks")])),
    description="The paper's Table 1 on the plan month: the four baselines, the logged policy, "
    "the expert and searched rules with both optimizers and the constrained oracle, each "
    "realized under the true demand (units, revenue, profit, violations, gap to the oracle).",
)
def method_comparison(context: dg.AssetExecutionContext, config: MethodComparisonConfig,
                      world: WorldResource, mlflow: MlflowResource, duckdb: DuckDBResource,
                      rule_plans_vs_truth: pl.DataFrame, plan_customers: pl.DataFrame
                      ) -> dg.Output[pl.DataFrame]:
    started = time.perf_counter()
    if world.user_folder() is not None:
        return no_truth(pl.DataFrame())
    truth, month = world.world(), plan_customers["month"][0]
    settings = BaselineSettings(seed=config.seed, market_pairs=config.market_pairs)
    shared = baseline_month(truth, month)
    runs = [baseline_outcomes(truth, shared, settings)]
    if config.all_pairs_too and config.market_pairs != "all":
        extra = baseline_outcomes(truth, shared, replace(settings, market_pairs="all"), ONLINE)
        extra.rows[:] = [{**r, "plan": f"{r['plan']} (all pairs answer)"} for r in extra.rows]
        runs.append(extra)
    ours = rule_plans_vs_truth.select(list(OUTCOME_SCHEMA))
    oracle = pl.col("plan") == "constrained oracle"
    rows = [*ours.filter(~oracle).to_dicts(), *(r for run in runs for r in run.rows),
            *ours.filter(oracle).to_dicts()]
    table = comparison(rows, float(ours.filter(oracle)["profit"].item()))
    plan, targets = _headline(table, [r["plan"] for r in runs[0].rows])
    figure = sales_profit_scatter(table["plan"].to_list(), table["units"].to_list(),
                                  table["profit"].to_list())
    full, full_figures = _full_setting(duckdb, world.preset)
    with mlflow.run(context, "method_comparison") as tracked:
        tracked.client.log_text(tracked.run_id, table_markdown(table), "comparison.md")
        tracked.client.log_figure(tracked.run_id, figure, "sales_vs_profit.png")
        for name, full_figure in full_figures.items():
            tracked.client.log_figure(tracked.run_id, full_figure, f"{name}.png")
        for key, value in targets.items():
            tracked.client.log_metric(tracked.run_id, key, value)
    return dg.Output(table, metadata=frame_metadata(
        table, time.perf_counter() - started, plan_month=month.isoformat(),
        comparison=dg.MetadataValue.md(table_markdown(table)),
        baseline_seconds=round(sum(s for run in runs for s in run.seconds), 1),
        market_pairs=config.market_pairs, mlflow_run=mlflow.run_url(tracked.run_id),
        sales_vs_profit=plot_metadata(figure, "Realized units and profit of every method"),
        deeprule_plan=plan, **{k: round(v, 4) for k, v in targets.items()}, **full,
    ))


def _full_setting(duckdb: DuckDBResource, preset: str
                  ) -> tuple[dict[str, object], dict[str, Figure]]:
    """What the full-setting command (`python -m pipelines.compare`) stored for this preset:
    Table 1 with mean ± sd over its seeds, Table 2's shape, the component ablation and
    the convergence plot; or a note saying how to produce it."""
    rows = read_table_or_none(duckdb, COMPARISON_ROWS)
    rows = None if rows is None else rows.filter(pl.col("preset") == preset)
    if rows is None or rows.is_empty():
        return {"full_setting": f"not run yet for {preset!r}: python -m pipelines.compare "
                f"--preset {preset} (docs/baselines.md)"}, {}
    curves = read_table_or_none(duckdb, COMPARISON_CONVERGENCE)
    runs = read_table_or_none(duckdb, COMPARISON_RUNS)
    figures = {}
    series = convergence_series(curves) if curves is not None else {}
    if series:
        figures["convergence"] = convergence_curves(series)
    out: dict[str, object] = {
        "full_setting": dg.MetadataValue.md(table_markdown(summary_display(rows))),
        "full_setting_headline": dg.MetadataValue.md(table_markdown(headline(rows))),
        "full_setting_searchers": dg.MetadataValue.md(table_markdown(searcher_table(rows))),
        "full_setting_components": dg.MetadataValue.md(table_markdown(
            component_losses(rows))),
        "full_setting_deployment": dg.MetadataValue.md(table_markdown(
            deployment_check(rows))),
        "full_setting_seeds": int(rows["seed"].n_unique()),
    }
    if runs is not None and not runs.is_empty():
        mine = runs.filter(pl.col("preset") == preset)
        out["full_setting_wall_seconds"] = round(float(mine["wall_seconds"].sum()), 1)
    if "convergence" in figures:
        out["full_setting_convergence"] = plot_metadata(
            figures["convergence"], "Best fitness and realized profit by iteration, per "
            "searcher (mean over seeds)")
    return out, figures


def _headline(table: pl.DataFrame, baselines: list[str]) -> tuple[str, dict[str, float]]:
    """DeepRule's deployed plan (of `RULE_PLANS`, the one the model predicts to earn the most)
    against the best baseline (under the configured market) and the oracle: the issue's
    target is ≥ 1.05 and ≥ 0.97 with 0 violations. Against the logged policy too: a plan
    that earns less than what the seller already does is no plan. (plan, figures)."""
    profit = dict(zip(table["plan"], table["profit"], strict=True))
    best_baseline = max(profit[b] for b in baselines)
    candidates = pl.DataFrame({"plan": RULE_PLANS}).join(table, on="plan", how="left",
                                                          maintain_order="left")
    plan = candidates.select(deployed("plan")).item()
    ours = profit[plan]
    return plan, {"deeprule_vs_best_baseline": ours / best_baseline,
                  "deeprule_share_of_oracle": ours / profit["constrained oracle"],
                  "deeprule_vs_logged_policy": ours / profit["logged policy"],
                  "deeprule_violations": float(table.filter(pl.col("plan") == plan)
                                               ["violations"].fill_null(0).sum())}
