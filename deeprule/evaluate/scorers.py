"""Scorers measured against the simulator's truth (EVALUATION ONLY).

On held-out months: accuracy of units (WAPE, MAE against the logged units),
how well each model ranks price sensitivity (Spearman correlation between its
implied elasticity and the true one, averaged per customer x category), and
how well it predicts the effect of a price move (the uplift error against the
true change in expected units). Only the `evaluation` group calls `truth_for`.

`document_ablation` trains the demand model a second time, on the same months with
the same settings but without the document features (deeprule/features/documents.py),
so their worth is measured on the same held-out rows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np
import polars as pl

from deeprule.models.dataset import frames_for
from deeprule.models.demand import DemandConfig, DemandFit, DemandScorer, fit_demand
from deeprule.models.frames import ScoringFrame, SourceTables
from deeprule.models.matrix import fit_spec, scoring_frame, training_frame
from deeprule.models.metrics import grouped_mean, mae, rank_correlation, wape
from deeprule.models.price import NetRateResponse, PriceResponse
from deeprule.models.split import TimeSplit
from deeprule.optimize.candidates import plan_query
from deeprule.synth import World

PRICE_MOVES = (0.9, 0.95, 1.05, 1.1)
"""Candidate / logged price ratios the uplift error is measured on."""
CELL = ["customer_id", "primary_category"]


@dataclass(frozen=True)
class Truth:
    """What the simulator knows about each row of a frame."""

    elasticity: np.ndarray
    delta_units: dict[float, np.ndarray]


def truth_for(world: World, frame: ScoringFrame) -> Truth:
    """True elasticity at the logged price and true Δexpected units for each price move."""
    rows = frame.rows
    customers, skus, months = rows["customer_id"], rows["sku_id"], rows["month"].to_numpy()
    logged = frame.column("unit_price")
    at_logged = world.expected_units(customers, skus, logged, months)
    delta = {move: world.expected_units(customers, skus, logged * move, months) - at_logged
             for move in PRICE_MOVES}
    return Truth(world.true_elasticity(customers, skus, logged, months), delta)


def elasticity_cells(frame: ScoringFrame, predicted: np.ndarray,
                     true: np.ndarray) -> pl.DataFrame:
    """Mean model and true elasticity per customer x category (columns predicted, true)."""
    return grouped_mean(frame.rows.select(CELL), {"predicted": predicted, "true": true})


def elasticity_rank(frame: ScoringFrame, predicted: np.ndarray, true: np.ndarray) -> float:
    """Spearman correlation of mean elasticity per customer x category, model vs truth."""
    cells = elasticity_cells(frame, predicted, true)
    return rank_correlation(cells["predicted"].to_numpy(), cells["true"].to_numpy())


def uplift_error(units: PriceResponse, logged: np.ndarray, truth: Truth) -> float:
    """WAPE of the predicted Δunits against the true Δexpected units over all price moves."""
    base = units.units(logged)
    predicted = np.concatenate([units.units(logged * m) - base for m in PRICE_MOVES])
    true = np.concatenate([truth.delta_units[m] for m in PRICE_MOVES])
    return wape(true, predicted)


def net_rate_error(rate: NetRateResponse, frame: ScoringFrame) -> float:
    """MAE of the predicted Δnet rate against the accounting truth cost/p - cost/p'."""
    logged, cost = frame.column("unit_price"), frame.column("cost")
    errors = [(rate.rate(logged * m) - rate.rate(logged)) - (cost / logged - cost / (logged * m))
              for m in PRICE_MOVES]
    return float(np.mean(np.abs(np.concatenate(errors))))


def assess(name: str, frame: ScoringFrame, units: PriceResponse, truth: Truth,
           rate: NetRateResponse | None = None) -> dict[str, object]:
    """One row of the comparison table."""
    logged, actual = frame.column("unit_price"), frame.column("units")
    predicted = units.units(logged)
    return {
        "model": name, "rows": frame.height,
        "wape": wape(actual, predicted), "mae": mae(actual, predicted),
        "elasticity_rank_corr": elasticity_rank(frame, units.elasticity(logged),
                                                truth.elasticity),
        "uplift_wape": uplift_error(units, logged, truth),
        "net_rate_delta_mae": net_rate_error(rate, frame) if rate is not None else None,
    }


def comparison_table(rows: list[dict[str, object]]) -> pl.DataFrame:
    """The side-by-side table (one row per model), with explicit types for empty cells."""
    return pl.DataFrame(rows, schema={
        "model": pl.String, "rows": pl.Int64, "wape": pl.Float64, "mae": pl.Float64,
        "elasticity_rank_corr": pl.Float64, "uplift_wape": pl.Float64,
        "net_rate_delta_mae": pl.Float64,
    })


WITH_DOCUMENTS = "demand with document features"
WITHOUT_DOCUMENTS = "demand without document features"
"""Model names of the two rows of the document ablation."""


def without_documents(tables: SourceTables, split: TimeSplit,
                      config: DemandConfig) -> tuple[SourceTables, DemandFit]:
    """The demand model trained on `split` with `config`, its inputs stripped of the
    document features; (the stripped tables, the fit)."""
    plain = replace(tables, customer_priors=None)
    spec = fit_spec(plain, split.train)
    data = frames_for(plain, spec, split)
    return plain, fit_demand(data.train, data.valid, spec, config)


def held_out_accuracy(world: World, name: str, scorer: DemandScorer, tables: SourceTables,
                      split: TimeSplit) -> dict[str, object]:
    """`assess` on the test months' logged rows, plus the WAPE against the true expected
    units on every customer x launched SKU of the first test month at its usual price
    (`candidate_*`): what a plan chooses from, where a pair the logged policy never offered
    is known only through its customer's documents (`candidate_new_pair_wape`)."""
    test = training_frame(tables, scorer.spec, split.test)
    row = assess(name, test, scorer.response(test), truth_for(world, test))
    month = split.test[0]
    query = plan_query(tables.shipments["customer_id"], tables.skus, month)
    frame = scoring_frame(query, tables, scorer.spec)
    usual = frame.column("list_price") * np.exp(frame.column("r_usual"))
    predicted = scorer.response(frame).units(usual)
    true = world.expected_units(frame.rows["customer_id"], frame.rows["sku_id"], usual,
                                frame.rows["month"].to_numpy())
    new = frame.column("has_history") == 0
    return {**row, "candidate_rows": frame.height, "candidate_wape": wape(true, predicted),
            "candidate_new_pairs": int(new.sum()),
            "candidate_new_pair_wape": wape(true[new], predicted[new]) if new.any() else None}


def document_ablation(world: World, tables: SourceTables, split: TimeSplit, config: DemandConfig,
                      scorer: DemandScorer) -> tuple[pl.DataFrame, float]:
    """Held-out accuracy of `scorer` (trained with the document features on `split` with
    `config`) and of the same model trained without them; (table, seconds the second fit
    took)."""
    started = time.perf_counter()
    plain, fit = without_documents(tables, split, config)
    seconds = time.perf_counter() - started
    rows = [held_out_accuracy(world, WITH_DOCUMENTS, scorer, tables, split),
            held_out_accuracy(world, WITHOUT_DOCUMENTS, fit.scorer, plain, split)]
    extra = {"candidate_rows": pl.Int64, "candidate_wape": pl.Float64,
             "candidate_new_pairs": pl.Int64, "candidate_new_pair_wape": pl.Float64}
    table = comparison_table([{k: v for k, v in r.items() if k not in extra} for r in rows])
    return table.with_columns(pl.Series(k, [r[k] for r in rows], dtype=t)
                              for k, t in extra.items()), seconds
