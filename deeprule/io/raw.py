"""Produce a validated raw table from the generator or from the user's files."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

from deeprule.io.sources import read_table, split_by_month
from deeprule.io.validate import ValidationResult, attach_source, validate_table
from deeprule.schema import TableSchema


@dataclass(frozen=True)
class RawLoad:
    """A validated table plus rows that belong to no partition (unparseable month)."""

    result: ValidationResult
    unassigned: ValidationResult | None
    source: str


ParentKeys = Mapping[str, pl.Series]
"""Key values of the tables a schema references (see `TableSchema.references`)."""


def generated_table(
    schema: TableSchema, produce: Callable[[], pl.DataFrame], label: str,
    parent_keys: ParentKeys | None = None,
) -> RawLoad:
    """Validate a generator frame too: a generator bug must surface like bad user data."""
    frame = attach_source(produce(), label)
    return RawLoad(validate_table(frame, schema, parent_keys), unassigned=None, source=label)


def user_table(
    schema: TableSchema, folder: Path, month: date | None = None,
    parent_keys: ParentKeys | None = None,
) -> RawLoad:
    """Read, slice to `month` when the table is partitioned, and validate."""
    frame = read_table(folder, schema)
    if month is None or schema.partition_column is None:
        return RawLoad(validate_table(frame, schema, parent_keys), None, str(folder))
    in_month, unassigned = split_by_month(frame, schema.partition_column, month)
    refused = validate_table(unassigned, schema) if unassigned.height else None
    return RawLoad(validate_table(in_month, schema, parent_keys), refused, str(folder))
