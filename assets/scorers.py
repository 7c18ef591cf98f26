"""Scorers: the DNN sales-volume model and the monotone uplift model (MLflow-tracked).

The math lives in deeprule/models (docs/scorers.md). Each model asset trains
on the months before a time-based validation split, logs the run to MLflow,
registers the model and stores a small model card (run id, registered
version, split, metrics). Everything downstream loads the model by the
registered version on that card. None of them reads the simulator's truth:
`scorers_vs_truth` (assets/evaluation.py) compares them with it.
"""

import json
import time

import dagster as dg
import numpy as np
import polars as pl
from dagster_duckdb import DuckDBResource
from pydantic import Field

from assets._config import from_domain
from assets._heldout import SOURCE_DEPS, registered_demand, sources
from assets._metadata import frame_metadata, markdown_preview, table_markdown
from assets._plots import plot_metadata
from deeprule.features.documents import document_inputs
from deeprule.models import registry
from deeprule.models.dataset import ScorerData, frames_for, prepare
from deeprule.models.demand import DemandConfig, DemandScorer, fit_demand
from deeprule.models.frames import ScoringFrame
from deeprule.models.metrics import mae, wape
from deeprule.models.split import TimeSplit
from deeprule.models.uplift import UpliftConfig, UpliftFit, ablation_grid, fit_uplift
from deeprule.plots import price_response_curves
from resources.mlflow import MlflowResource

GROUP = "scorers"
CURVE_RATIOS = (0.8, 0.85, 0.9, 0.95, 1.0, 1.05, 1.1, 1.2)
"""Price / list-price ratios of the price-response preview."""


class SplitConfig(dg.Config):
    """How many of the latest months are held out (validation for early stopping, then test)."""

    validation_months: int = Field(default=2, description="Months for early stopping.")
    test_months: int = Field(default=2, description="Latest months, only for reporting.")


class DemandModelConfig(SplitConfig):
    """Training settings of the demand network (deeprule.models.demand.DemandConfig)."""

    max_epochs: int = from_domain(DemandConfig, "max_epochs",
                                  "Upper bound on epochs (early stopping).")
    patience: int = from_domain(DemandConfig, "patience",
                                "Epochs without validation gain before stop.")
    beta: float | None = from_domain(
        DemandConfig, "beta", "Tower fusion beta; None = choose from beta_grid on the validation "
        "months.")
    cv_epochs: int = from_domain(DemandConfig, "cv_epochs", "Epochs per beta candidate.")

    def demand(self) -> DemandConfig:
        return DemandConfig(max_epochs=self.max_epochs, patience=self.patience, beta=self.beta,
                            cv_epochs=self.cv_epochs)


class UpliftModelConfig(SplitConfig):
    """The registered variant's switches and whether to train the ablations beside it."""

    propensity: bool = from_domain(UpliftConfig, "propensity", "Inverse-propensity weighting.")
    adversarial: bool = from_domain(UpliftConfig, "adversarial",
                                    "Treatment discriminator + gradient reversal.")
    within_pair: bool = from_domain(UpliftConfig, "within_pair",
                                    "Price measured against the pair's own usual price.")
    ablations: bool = Field(default=True, description="Also train the naive fit and the "
                            "single-switch variants (logged, not registered).")
    max_epochs: int = from_domain(UpliftConfig, "max_epochs", "Upper bound on epochs.")
    patience: int = from_domain(UpliftConfig, "patience",
                                "Epochs without validation gain before stop.")

    def variants(self) -> list[UpliftConfig]:
        """The registered variant first, then the ablations (none repeated)."""
        common = {"max_epochs": self.max_epochs, "patience": self.patience}
        main = UpliftConfig(propensity=self.propensity, adversarial=self.adversarial,
                            within_pair=self.within_pair, **common)
        if not self.ablations:
            return [main]
        return [main, *[v for v in ablation_grid(**common) if v.variant != main.variant]]


def _curves(scorer: DemandScorer, data: ScorerData, rows: int = 4) -> dict[str, np.ndarray]:
    """Units at each of CURVE_RATIOS x list price for a few held-out pairs, by pair label."""
    frame = data.test if data.test.height else data.valid
    take = np.linspace(0, frame.height - 1, min(rows, frame.height)).astype(np.int64)
    sample = scorer.response(frame).take(take)
    ratios = np.asarray(CURVE_RATIOS)
    return {f"{frame.rows['customer_id'][int(row)]} × {frame.rows['sku_id'][int(row)]}":
            sample.take(np.full(len(ratios), i)).units(sample.list_price[i] * ratios)
            for i, row in enumerate(take)}


def _curve_table(curves: dict[str, np.ndarray]) -> str:
    """Markdown price-response table: units at each price / list."""
    header = "| pair | " + " | ".join(f"{r:.2f}" for r in CURVE_RATIOS) + " |"
    lines = [header, "|---|" + "---|" * len(CURVE_RATIOS)]
    lines += [f"| {pair} | " + " | ".join(f"{u:.1f}" for u in units) + " |"
              for pair, units in curves.items()]
    return "Expected units at price / list price:\n\n" + "\n".join(lines)


def _card(ref: registry.ModelRef, split: TimeSplit, variant: str, metrics: dict[str, float],
          seconds: float, config: dict[str, object]) -> dict[str, object]:
    """One model card row; `config` (the training settings, beta chosen) lets evaluation
    train the same model again (the document ablation)."""
    return {"variant": variant, "model_name": ref.name, "version": ref.version,
            "run_id": ref.run_id, "split": json.dumps(split.to_dict()),
            "config": json.dumps(config),
            "seconds": round(seconds, 2), **{k: float(v) for k, v in metrics.items()}}


def _history_md(history: list[dict[str, float]]) -> str:
    """Per-epoch metrics; step 0 is the untrained network (its priors)."""
    frame = pl.DataFrame(history).with_row_index("step") if history else pl.DataFrame()
    return table_markdown(frame)


@dg.asset(
    group_name=GROUP, kinds={"pytorch", "mlflow", "duckdb"}, pool="duckdb", deps=SOURCE_DEPS,
    description="DNN sales-volume model (dual tower, monotone price pathway), trained with "
    "early stopping on later months, logged and registered as deeprule-demand. Stores its "
    "model card: registered version, run id, split and metrics.",
)
def demand_model(context: dg.AssetExecutionContext, config: DemandModelConfig,
                 mlflow: MlflowResource, duckdb: DuckDBResource) -> dg.Output[pl.DataFrame]:
    started = time.perf_counter()
    data = prepare(sources(duckdb), config.validation_months, config.test_months)
    with mlflow.run(context, "demand_model") as run:
        fit = fit_demand(data.train, data.valid, data.spec, config.demand(),
                         sink=registry.mlflow_sink(run))
        predicted, actual = fit.scorer.predict(data.test), data.test.column("units")
        metrics = {"val_wape": fit.val_wape, "test_wape": wape(actual, predicted),
                   "test_mae": mae(actual, predicted), "best_epoch": fit.best_epoch,
                   "train_seconds": fit.seconds}
        ref = registry.log_scorer(
            run, fit.scorer.net, data.spec,
            {**fit.config.params(), **data.sizes(), "split": data.split.to_dict()},
            {**metrics, **{f"beta_{b}_val_wape": v for b, v in fit.beta_scores.items()}},
            register_as=registry.DEMAND_MODEL)
    card = pl.DataFrame([_card(ref, data.split, "demand", metrics,
                               time.perf_counter() - started, fit.config.params())])
    curves = _curves(fit.scorer, data)
    return dg.Output(card, metadata=frame_metadata(
        card, time.perf_counter() - started, **data.sizes(), **_rounded(metrics),
        beta=float(fit.config.beta or 0.0), beta_scores=json.dumps(fit.beta_scores),
        document_features=json.dumps(document_inputs(data.spec.high_columns)),
        registered_model=ref.name, registered_version=ref.version, run_id=run.run_id,
        mlflow_run=mlflow.run_url(ref.run_id),
        mlflow_model=mlflow.model_url(str(ref.name), str(ref.version)),
        epochs=dg.MetadataValue.md(_history_md(fit.history)),
        price_response=dg.MetadataValue.md(_curve_table(curves)),
        price_response_plot=plot_metadata(
            price_response_curves(np.asarray(CURVE_RATIOS), curves),
            "Expected units of a few test pairs as their price moves"),
    ))


def _rounded(metrics: dict[str, float]) -> dict[str, float]:
    return {k: round(float(v), 4) for k, v in metrics.items()}


def _fit_variant(context: dg.AssetExecutionContext, mlflow: MlflowResource,
                 parent: registry.TrackedRun, data: ScorerData, variant: UpliftConfig,
                 register: bool) -> tuple[UpliftFit, registry.ModelRef]:
    """One uplift variant in its own (nested) MLflow run; only the main one is registered."""
    with mlflow.run(context, f"uplift_{variant.variant}", parent=parent) as run:
        fit = fit_uplift(data.train, data.valid, data.spec, variant,
                         sink=registry.mlflow_sink(run))
        units, _ = fit.scorer.responses(data.test)
        actual = data.test.column("units")
        predicted = units.units(data.test.column("unit_price"))
        metrics = {"val_wape": fit.val_wape, "test_wape": wape(actual, predicted),
                   "best_epoch": fit.best_epoch, "train_seconds": fit.seconds,
                   **fit.diagnostics}
        ref = registry.log_scorer(run, fit.scorer.net, data.spec,
                                  {**variant.params(), **data.sizes(),
                                   "split": data.split.to_dict()},
                                  metrics, register_as=registry.UPLIFT_MODEL if register else None)
    context.log.info(f"uplift {variant.variant}: {_rounded(metrics)}")
    return fit, ref


@dg.asset(
    group_name=GROUP, kinds={"pytorch", "mlflow", "duckdb"}, pool="duckdb", deps=SOURCE_DEPS,
    description="Monotone uplift model: Δunits and Δnet rate of a price change against the "
    "logged price, de-confounded by propensity weighting and an adversarial discriminator "
    "(switchable). The configured variant is registered as deeprule-uplift; the naive fit and "
    "single-switch ablations are logged beside it. One model card row per variant.",
)
def uplift_model(context: dg.AssetExecutionContext, config: UpliftModelConfig,
                 mlflow: MlflowResource, duckdb: DuckDBResource) -> dg.Output[pl.DataFrame]:
    started = time.perf_counter()
    data = prepare(sources(duckdb), config.validation_months, config.test_months)
    cards, main = [], None
    with mlflow.run(context, "uplift_model") as parent:
        for i, variant in enumerate(config.variants()):
            variant_started = time.perf_counter()
            fit, ref = _fit_variant(context, mlflow, parent, data, variant, register=i == 0)
            main = main or (fit, ref)
            metrics = {"val_wape": fit.val_wape, "best_epoch": fit.best_epoch, **fit.diagnostics}
            cards.append(_card(ref, data.split, variant.variant, metrics,
                               time.perf_counter() - variant_started, variant.params()))
    card = pl.DataFrame(cards)
    fit, ref = main
    return dg.Output(card, metadata=frame_metadata(
        card, time.perf_counter() - started, **data.sizes(),
        registered_variant=fit.config.variant, registered_model=ref.name,
        registered_version=ref.version, run_id=ref.run_id,
        mlflow_run=mlflow.run_url(ref.run_id),
        mlflow_model=mlflow.model_url(str(ref.name), str(ref.version)),
        **{k: round(v, 4) for k, v in fit.diagnostics.items()},
        effects=dg.MetadataValue.md(_effects_md(fit, data)),
    ))


def _effects_md(fit: UpliftFit, data: ScorerData, rows: int = 8) -> str:
    """Predicted effect of a 5% price rise on a few held-out rows."""
    frame = data.test if data.test.height else data.valid
    effects = fit.scorer.effects(frame, frame.column("unit_price") * 1.05)
    table = frame.rows.select("customer_id", "sku_id", "unit_price", "units").with_columns(
        delta_units_5pct=pl.Series(effects["delta_units"]).round(2),
        delta_net_rate_5pct=pl.Series(effects["delta_net_rate"]).round(4))
    return markdown_preview(table, rows=rows)


@dg.asset(
    group_name=GROUP, kinds={"polars", "duckdb"}, pool="duckdb", deps=SOURCE_DEPS,
    description="One row per shipment row the demand model used: customer_id, sku_id, month, "
    "split (train/valid/test), list_price, unit_price, discount, units, predicted_units, "
    "scored by the registered deeprule-demand version on the model card.",
)
def demand_predictions(mlflow: MlflowResource, duckdb: DuckDBResource,
                       demand_model: pl.DataFrame) -> dg.Output[pl.DataFrame]:
    started = time.perf_counter()
    ref, scorer, split = registered_demand(mlflow, demand_model)
    data = frames_for(sources(duckdb), scorer.spec, split)
    df = pl.concat([_predictions(name, frame, scorer) for name, frame in data.frames().items()])
    by_split = df.group_by("split").agg(
        (pl.col("units") - pl.col("predicted_units")).abs().sum().alias("abs_error"),
        pl.col("units").sum()).with_columns(wape=pl.col("abs_error") / pl.col("units"))
    return dg.Output(df, metadata=frame_metadata(
        df, time.perf_counter() - started, registered_version=ref.version,
        **{f"wape_{r['split']}": round(r["wape"], 4) for r in by_split.iter_rows(named=True)},
    ))


def _predictions(name: str, frame: ScoringFrame, scorer: DemandScorer) -> pl.DataFrame:
    rows = frame.rows
    return pl.DataFrame({
        "customer_id": rows["customer_id"], "sku_id": rows["sku_id"], "month": rows["month"],
        "split": pl.Series([name] * frame.height, dtype=pl.String),
        "list_price": rows["list_price"].cast(pl.Float64),
        "unit_price": rows["unit_price"].cast(pl.Float64),
        "discount": rows["discount"].cast(pl.Float64),
        "units": rows["units"].cast(pl.Float64),
        "predicted_units": pl.Series(scorer.predict(frame), dtype=pl.Float64),
    })


