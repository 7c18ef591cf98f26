"""Retraining the demand model on edited training data (cleaned or augmented), for the report.

`fit_and_predict` is the single point of contact with deeprule/models: it
builds the scorer's feature frames, applies the edits to the training frame
only (history features still see every logged shipment), calls
`deeprule.models.demand.fit_demand` and predicts the held-out rows.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

import numpy as np
import polars as pl

from deeprule.quality.context import PAIR

KEY = [*PAIR, "month"]


@dataclass(frozen=True)
class RefitConfig:
    """Training settings shared by every refit variant, so they differ only in their data."""

    beta: float = 0.3
    max_epochs: int = 15
    patience: int = 3
    seed: int = 0


@dataclass(frozen=True)
class TrainEdits:
    """What a variant changes in the training months."""

    exclude: pl.DataFrame | None = None  # KEY rows dropped from the training frame
    relabel: pl.DataFrame | None = None  # KEY + new_units
    extra: pl.DataFrame | None = None  # KEY + unit_price + list_price + units (pseudo rows)


def _months(preds: pl.DataFrame, split: str) -> list[date]:
    return sorted(preds.filter(pl.col("split") == split)["month"].unique().to_list())


def _edit_rows(rows: pl.DataFrame, edits: TrainEdits) -> tuple[pl.DataFrame, np.ndarray]:
    """Relabelled rows and the keep mask."""
    keep = np.ones(rows.height, dtype=bool)
    if edits.exclude is not None and edits.exclude.height:
        dropped = rows.select(KEY).join(edits.exclude.select(KEY).with_columns(_x=pl.lit(True)),
                                        on=KEY, how="left")["_x"].is_not_null().to_numpy()
        keep &= ~dropped
    if edits.relabel is not None and edits.relabel.height:
        rows = rows.join(edits.relabel.select(*KEY, "new_units"), on=KEY, how="left",
                         maintain_order="left").with_columns(
            units=pl.coalesce("new_units", "units")).drop("new_units")
    return rows, keep


def _stack(train, pseudo, labels: pl.DataFrame):
    """Training frame + pseudo-labelled frame (columns a query lacks are null)."""
    from deeprule.models.frames import ScoringFrame

    rows = pseudo.rows.drop("units", strict=False).join(
        labels.select(*KEY, "units"), on=KEY, how="left", maintain_order="left")
    missing = [c for c in train.rows.columns if c not in rows.columns]
    rows = rows.with_columns([pl.lit(None).alias(c) for c in missing]).select(train.rows.columns)
    return ScoringFrame(pl.concat([train.rows, rows], how="vertical_relaxed"),
                        np.vstack([train.high, pseudo.high]), np.vstack([train.low, pseudo.low]))


@dataclass(frozen=True)
class RefitResult:
    predictions: pl.DataFrame  # KEY + refit_units on the held-out rows
    best_epoch: int
    """0 = early stopping kept the untrained network: the training labels (and so any
    cleaning or augmentation) could not change the predictions."""


def fit_and_predict(tables, preds: pl.DataFrame, edits: TrainEdits,
                    config: RefitConfig) -> RefitResult:
    """Held-out predictions after training on the edited data, and the epoch kept.

    `tables` is a deeprule.models.frames.SourceTables over the logged shipments.
    """
    from deeprule.models.demand import DemandConfig, fit_demand
    from deeprule.models.frames import ScoringFrame
    from deeprule.models.matrix import fit_spec, scoring_frame, training_frame

    train_months, valid_months = _months(preds, "train"), _months(preds, "valid")
    spec = fit_spec(tables, train_months)
    train = training_frame(tables, spec, train_months)
    rows, keep = _edit_rows(train.rows, edits)
    train = ScoringFrame(rows, train.high, train.low).subset(keep)
    if edits.extra is not None and edits.extra.height:
        pseudo = scoring_frame(edits.extra.drop("units"), tables, spec)
        train = _stack(train, pseudo, edits.extra)
    valid = training_frame(tables, spec, valid_months or train_months[-1:])
    fit = fit_demand(train, valid, spec, replace(
        DemandConfig(), beta=config.beta, max_epochs=config.max_epochs, patience=config.patience,
        seed=config.seed))
    test = training_frame(tables, spec, _months(preds, "test"))
    return RefitResult(
        test.rows.select(KEY).with_columns(refit_units=pl.Series(fit.scorer.predict(test))),
        int(fit.best_epoch))
