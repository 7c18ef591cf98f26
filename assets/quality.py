"""The paper's data-quality loop over `demand_predictions` (logic in deeprule/quality/).

quality_rule_base -> quality_fused_predictions (rule retrieval, LLM-weighted
fusion, trend calibration) -> quality_judgments / quality_cleaning_log /
quality_review (LLM posterior cleaning) -> quality_report (held-out accuracy
with and without each step, refitting the demand model for cleaning and
augmentation). docs/quality.md explains every rule and constant.
"""

import time
from typing import Any

import dagster as dg
import polars as pl
from dagster_duckdb import DuckDBResource
from pydantic import Field

from assets._metadata import frame_metadata, markdown_preview
from assets._tables import read_table_or_none
from deeprule.features.embedding import TextEncoder, embed_through_cache
from deeprule.quality.augment import augmented_rows
from deeprule.quality.cleaning import CleaningParams, clean
from deeprule.quality.context import check_predictions, sample_context
from deeprule.quality.loop import FusionParams, fuse_and_calibrate
from deeprule.quality.refit import RefitConfig, TrainEdits, fit_and_predict
from deeprule.quality.report import Refit, build_report
from deeprule.quality.retrieval import Embed
from deeprule.quality.rules import build_rule_base
from resources.llm import LLMResource

GROUP = "quality"
PREDICTIONS = dg.AssetKey("demand_predictions")
PRIORS = "customer_priors"
FEATURE_TABLES = ("customer_features", "sku_features", "customer_category_features")


def _context(preds: pl.DataFrame, skus: pl.DataFrame, duckdb: DuckDBResource,
             log: Any) -> pl.DataFrame:
    priors = read_table_or_none(duckdb, PRIORS)
    if priors is None:
        log.warning("customer_priors not materialized: scope and sensitivity are unknown, "
                    "so scope rules cannot fire")
    return sample_context(check_predictions(preds), skus, priors)


@dg.asset(
    group_name=GROUP, kinds={"polars", "duckdb"}, pool="duckdb", deps=[PRIORS],
    description="Price-shipment rule base (strict caps, soft elasticity / new-pair levels), "
    "derived from the training rows of demand_predictions and the LLM customer priors.",
)
def quality_rule_base(context: dg.AssetExecutionContext, demand_predictions: pl.DataFrame,
                      skus: pl.DataFrame, duckdb: DuckDBResource) -> dg.Output[pl.DataFrame]:
    started = time.perf_counter()
    rules = build_rule_base(_context(demand_predictions, skus, duckdb, context.log))
    counts = rules["kind"].value_counts()
    return dg.Output(rules, metadata=frame_metadata(
        rules, time.perf_counter() - started,
        **{f"{k}_rules": int(n) for k, n in counts.iter_rows()},
        rules=dg.MetadataValue.md(markdown_preview(rules.drop("text"), rows=rules.height)),
    ))


def cached_embedder(duckdb: DuckDBResource, encoder: TextEncoder) -> Embed:
    """Embed texts through the shared DuckDB embedding cache (the model loads only on a miss)."""
    return lambda texts: embed_through_cache(duckdb.get_connection, encoder, texts)[0]


class FusionConfig(dg.Config):
    """Bounds of fusion and calibration (docs/quality.md, "Fusion" and "Calibration")."""

    max_alpha_calls: int = Field(default=16, description="LLM weight requests (largest sample "
                                 "groups first); 0 = no cap. Groups past it are not blended.")
    tau: int = Field(default=1, description="Periods per half-window of the trend ΔH.")
    kappa: float = Field(default=20.0, description="Clip of |ΔH| in units.")
    beta: float | None = Field(default=None, description="Trend weight in [0, 0.1]; None = "
                               "chosen on the valid months.")


@dg.asset(
    group_name=GROUP, kinds={"polars", "duckdb"}, pool="duckdb", deps=[PRIORS],
    description="Per prediction row: retrieved rule and similarity, LLM weight α (or why none), "
    "a_fused (strict override / soft blend), trend ΔH and a_final.",
)
def quality_fused_predictions(
    context: dg.AssetExecutionContext, config: FusionConfig, demand_predictions: pl.DataFrame,
    skus: pl.DataFrame, quality_rule_base: pl.DataFrame, llm: LLMResource,
    duckdb: DuckDBResource, sku_embedder: dg.ResourceParam[TextEncoder],
) -> dg.Output[pl.DataFrame]:
    started = time.perf_counter()
    samples = _context(demand_predictions, skus, duckdb, context.log)
    params = FusionParams(config.max_alpha_calls, config.tau, config.kappa, config.beta)
    with llm.client("data_quality") as client:
        result = fuse_and_calibrate(samples, quality_rule_base,
                                    cached_embedder(duckdb, sku_embedder), client, params)
    groups = result.groups.select("description", "rows", "rule_id", "similarity", "alpha",
                                  "alpha_source")
    return dg.Output(result.table, metadata=frame_metadata(
        result.table, time.perf_counter() - started, **result.stats,
        sample_groups=groups.height, beta=result.calibration.beta, tau=result.calibration.tau,
        kappa=result.calibration.kappa, embedding_model=sku_embedder.name,
        backend=client.backend.name, model=client.backend.model,
        groups=dg.MetadataValue.md(markdown_preview(groups, rows=20)), **client.usage.summary(),
    ))


class CleaningConfig(dg.Config):
    """Bounds of posterior cleaning (docs/quality.md, "Cleaning")."""

    max_judgments: int = Field(default=8, description="Least confident training rows sent to "
                               "the LLM for judgment.")
    max_rule_share: float = Field(default=0.005, description="A proposed cleaning rule touching "
                                  "more than this share of training rows is rejected.")
    apply_rules: bool = Field(default=True, description="Apply accepted rules to other rows.")


def _replace_table(duckdb: DuckDBResource, name: str, frame: pl.DataFrame) -> None:
    """The IO manager skips empty frames: drop the old table so no stale rows survive."""
    if frame.is_empty():
        with duckdb.get_connection() as conn:
            conn.execute(f'DROP TABLE IF EXISTS "{name}"')


@dg.multi_asset(
    outs={
        "quality_judgments": dg.AssetOut(
            kinds={"polars", "duckdb"}, description="Every low-confidence training row sent "
            "to the LLM: judgment, reason, proposed rule, whether the rule was applied, outcome."),
        "quality_cleaning_log": dg.AssetOut(
            kinds={"polars", "duckdb"}, description="Training labels excluded or corrected, "
            "by an LLM judgment or an accepted cleaning rule (old and new value, source)."),
        "quality_review": dg.AssetOut(
            kinds={"polars", "duckdb"}, description="Judgments left to a person: 'uncertain' "
            "answers and failed calls."),
    },
    group_name=GROUP, pool="duckdb",
)
def quality_cleaning(context: dg.AssetExecutionContext, config: CleaningConfig,
                     quality_fused_predictions: pl.DataFrame, llm: LLMResource,
                     duckdb: DuckDBResource):
    started = time.perf_counter()
    params = CleaningParams(config.max_judgments, config.max_rule_share, config.apply_rules)
    with llm.client("data_quality") as client:
        result = clean(quality_fused_predictions, client, params)
    seconds = time.perf_counter() - started
    outcomes = dict(result.judgments["outcome"].value_counts().iter_rows())
    statuses = dict(result.judgments["status"].value_counts().iter_rows())
    for name, frame in (("quality_judgments", result.judgments),
                        ("quality_cleaning_log", result.log), ("quality_review", result.review)):
        _replace_table(duckdb, name, frame)
    yield dg.Output(result.judgments, output_name="quality_judgments", metadata=frame_metadata(
        result.judgments, seconds, **{f"outcome_{k}": int(v) for k, v in outcomes.items()},
        **{f"status_{k}": int(v) for k, v in statuses.items()},
        backend=client.backend.name, model=client.backend.model, **client.usage.summary()))
    yield dg.Output(result.log, output_name="quality_cleaning_log", metadata=frame_metadata(
        result.log, seconds, excluded=int((result.log["action"] == "excluded").sum()),
        corrected=int((result.log["action"] == "corrected").sum()),
        by_rule=int(result.log["source"].str.starts_with("rule").sum())))
    yield dg.Output(result.review, output_name="quality_review",
                    metadata=frame_metadata(result.review, seconds))


class ReportConfig(dg.Config):
    """Which refits the report runs (docs/quality.md, "Report")."""

    refit: bool = Field(default=True, description="Retrain the demand model per variant.")
    augment_share: float = Field(default=0.2, description="Pseudo rows per training row.")
    max_epochs: int = Field(default=15, description="Epochs per refit (same for every variant).")
    beta: float = Field(default=0.3, description="Dual-tower β of every refit (no grid search).")


def _source_tables(duckdb: DuckDBResource, skus: pl.DataFrame):
    from deeprule.models.frames import SourceTables

    shipments = read_table_or_none(duckdb, "shipments")
    if shipments is None:
        raise ValueError("shipments not materialized: the report's refits need them")
    extra = {name: read_table_or_none(duckdb, name) for name in FEATURE_TABLES}
    return SourceTables(shipments, skus, **extra)


def _refits(preds: pl.DataFrame, rules: pl.DataFrame, log: pl.DataFrame, skus: pl.DataFrame,
            duckdb: DuckDBResource, config: ReportConfig) -> list[Refit]:
    """Held-out predictions of the refit variants (same settings, different training data)."""
    tables = _source_tables(duckdb, skus)
    refit = RefitConfig(beta=config.beta, max_epochs=config.max_epochs)
    excluded = log.filter(pl.col("action") == "excluded")
    relabel = log.filter(pl.col("action") == "corrected")
    samples = sample_context(check_predictions(preds), skus, read_table_or_none(duckdb, PRIORS))
    extra = augmented_rows(samples, rules, config.augment_share)
    variants = [
        ("refit", "refit baseline (no cleaning, no augmentation)", TrainEdits(), ""),
        ("cleaning", "refit without invalid labels", TrainEdits(exclude=excluded, relabel=relabel),
         f"{excluded.height} excluded, {relabel.height} corrected"),
        ("augmentation", "refit with rule pseudo-labels", TrainEdits(extra=extra),
         f"{extra.height} pseudo rows"),
    ]
    out = []
    for step, name, edits, note in variants:
        result = fit_and_predict(tables, preds, edits, refit)
        kept = f"best epoch {result.best_epoch}" + (
            " (untrained network kept: labels cannot matter)" if result.best_epoch == 0 else "")
        out.append((step, name, result.predictions, "; ".join(filter(None, [note, kept]))))
    return out


@dg.asset(
    group_name=GROUP, kinds={"polars", "duckdb", "pytorch"}, pool="duckdb",
    deps=["quality_cleaning_log", "shipments", PRIORS, *FEATURE_TABLES],
    description="WAPE / MAE of units on the held-out (test) months with and without each step: "
    "rule fusion, trend calibration, posterior cleaning and rule-guided augmentation.",
)
def quality_report(context: dg.AssetExecutionContext, config: ReportConfig,
                   demand_predictions: pl.DataFrame, quality_fused_predictions: pl.DataFrame,
                   quality_rule_base: pl.DataFrame, skus: pl.DataFrame,
                   duckdb: DuckDBResource) -> dg.Output[pl.DataFrame]:
    started = time.perf_counter()
    log = read_table_or_none(duckdb, "quality_cleaning_log")
    if log is None:
        log = pl.DataFrame(schema={"customer_id": pl.String, "sku_id": pl.String,
                                   "month": pl.Date, "action": pl.String, "new_units": pl.Float64})
    refits = [] if not config.refit else _refits(demand_predictions, quality_rule_base, log, skus,
                                                 duckdb, config)
    report = build_report(quality_fused_predictions, refits,
                          "" if config.refit else "refit=false in the report config")
    best = report.drop_nulls("wape").sort("wape").row(0, named=True)
    wapes = {f"wape {r['step']}: {r['variant']}": r["wape"]
             for r in report.drop_nulls("wape").iter_rows(named=True)}
    return dg.Output(report, metadata=frame_metadata(
        report, time.perf_counter() - started, best_variant=best["variant"],
        best_wape=best["wape"], refits=len(refits), **wapes,
        report=dg.MetadataValue.md(markdown_preview(report, rows=report.height)),
    ))
