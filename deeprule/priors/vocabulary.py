"""The closed vocabularies extraction may answer with.

Categories and brands come from the product catalogue (the `skus` table), so a
model can only name brands and categories the business actually sells; the
remaining enumerations are fixed by the data contract (`deeprule.schema`).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from deeprule import schema

NO_CATALOGUE = ("unknown",)
"""What an empty catalogue lets a model name: nothing real (a schema needs one value)."""


@dataclass(frozen=True)
class Vocabulary:
    """Every enumeration an extraction schema uses (sorted tuples, hashable)."""

    categories: tuple[str, ...]
    brands: tuple[str, ...]
    price_levels: tuple[str, ...] = schema.PRICE_SENSITIVITY_LEVELS
    scale_bands: tuple[str, ...] = schema.SCALE_BANDS
    sentiments: tuple[str, ...] = schema.SENTIMENTS
    event_states: tuple[str, ...] = schema.EVENT_STATES
    event_actions: tuple[str, ...] = schema.EVENT_ACTIONS

    def __post_init__(self) -> None:
        if not self.categories or not self.brands:
            raise ValueError("a vocabulary needs at least one category and one brand")

    @classmethod
    def from_catalog(cls, skus: pl.DataFrame) -> Vocabulary:
        """Categories and brands of the catalogue; `default()` if it is empty."""
        if skus.is_empty():
            return cls.default()
        return cls(
            categories=tuple(sorted(skus["primary_category"].drop_nulls().unique().to_list())),
            brands=tuple(sorted(skus["brand"].drop_nulls().unique().to_list())),
        )

    @classmethod
    def default(cls) -> Vocabulary:
        """Without a catalogue no category or brand can be checked, so none is accepted."""
        return cls(categories=NO_CATALOGUE, brands=NO_CATALOGUE)
