"""Train / validation / test frames for the scorers, split by month.

Both scorers and the evaluation build their frames here, so they agree on
which months are the honest future.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from deeprule.models.frames import FeatureSpec, ScoringFrame, SourceTables
from deeprule.models.matrix import fit_spec, training_frame
from deeprule.models.split import TimeSplit, shipment_months, time_split

SPLIT_NAMES = ("train", "valid", "test")
"""Labels of the splits in `demand_predictions`."""


@dataclass
class ScorerData:
    """The spec fitted on the training months and one frame per split."""

    spec: FeatureSpec
    split: TimeSplit
    train: ScoringFrame
    valid: ScoringFrame
    test: ScoringFrame

    def frames(self) -> dict[str, ScoringFrame]:
        return dict(zip(SPLIT_NAMES, (self.train, self.valid, self.test), strict=True))

    def sizes(self) -> dict[str, int]:
        return {"train_rows": self.train.height, "valid_rows": self.valid.height,
                "test_rows": self.test.height}


def choose_split(months: list[date], validation_months: int, test_months: int) -> TimeSplit:
    """The requested split, or one validation and one test month if history is too short.

    A 3-month world (the `tiny` preset) still trains, on one month; the split
    used is always reported with the model.
    """
    if len(months) >= validation_months + test_months + 1:
        return time_split(months, validation_months, test_months)
    return time_split(months, 1, 1 if len(months) >= 3 else 0)


def prepare(tables: SourceTables, validation_months: int, test_months: int) -> ScorerData:
    """Fit the feature spec on the training months and build every split's frame."""
    if tables.shipments.is_empty():
        raise ValueError("no shipments: materialize the `shipments` partitions first")
    split = choose_split(shipment_months(tables.shipments), validation_months, test_months)
    spec = fit_spec(tables, split.train)
    return frames_for(tables, spec, split)


def frames_for(tables: SourceTables, spec: FeatureSpec, split: TimeSplit) -> ScorerData:
    """Frames of a split under an existing spec (e.g. one loaded from MLflow).

    Features are assembled once for all the split's months, then cut by month:
    the history joins are the expensive part and are the same for every split.
    """
    whole = training_frame(tables, spec, [*split.train, *split.validation, *split.test])
    months = whole.rows["month"]
    train, valid, test = (whole.subset(months.is_in(part).to_numpy())
                          for part in (split.train, split.validation, split.test))
    return ScorerData(spec, split, train, valid, test)
