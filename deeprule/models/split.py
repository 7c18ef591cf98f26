"""Time-based splits: train on the past, stop early on later months, report on the last.

A random split would let a model see next month's promotions while
training; splitting by month keeps every reported number about the future.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl


@dataclass(frozen=True)
class TimeSplit:
    """Disjoint, ordered month sets."""

    train: list[date]
    validation: list[date]
    test: list[date]

    def to_dict(self) -> dict[str, list[str]]:
        return {name: [m.isoformat() for m in months]
                for name, months in (("train", self.train), ("validation", self.validation),
                                     ("test", self.test))}

    @classmethod
    def from_dict(cls, data: dict[str, list[str]]) -> TimeSplit:
        """Inverse of `to_dict` (e.g. the split a logged model was trained with)."""
        months = {k: [date.fromisoformat(m) for m in data[k]]
                  for k in ("train", "validation", "test")}
        return cls(months["train"], months["validation"], months["test"])


def time_split(months: list[date], validation_months: int, test_months: int) -> TimeSplit:
    """The last `test_months` for reporting, the `validation_months` before them for early
    stopping, everything earlier for training (at least one month each)."""
    ordered = sorted(set(months))
    if validation_months < 1 or test_months < 0:
        raise ValueError("need at least one validation month and a non-negative test count")
    if len(ordered) < validation_months + test_months + 1:
        raise ValueError(
            f"{len(ordered)} month(s) of shipments cannot hold {validation_months} validation "
            f"and {test_months} test month(s) plus one training month"
        )
    n_train = len(ordered) - validation_months - test_months
    return TimeSplit(
        train=ordered[:n_train],
        validation=ordered[n_train:n_train + validation_months],
        test=ordered[n_train + validation_months:],
    )


def shipment_months(shipments: pl.DataFrame) -> list[date]:
    return sorted(shipments.get_column("month").unique().to_list())
