"""Validate raw tables against the data contract without losing a row.

Every problem becomes a quarantine row naming the file, the 1-based data row,
the column and the reason; the clean rows go on. Only a structural problem
(a missing column, an unreadable file) stops the load, with an error that
names the file and column.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl

from deeprule.schema import Column, Identity, Reference, TableSchema

SOURCE_FILE = "_source_file"
SOURCE_ROW = "_source_row"

QUARANTINE_SCHEMA: dict[str, pl.DataType] = {
    "table_name": pl.String(),
    "source_file": pl.String(),
    "source_row": pl.Int64(),
    "column_name": pl.String(),
    "reason": pl.String(),
    "raw_record": pl.String(),
}


class DataContractError(ValueError):
    """Raised when a raw file cannot be read as its table at all."""


@dataclass(frozen=True)
class ValidationResult:
    """Rows that passed (in contract types) and the quarantined problems."""

    valid: pl.DataFrame
    quarantine: pl.DataFrame

    def messages(self, limit: int = 20) -> list[str]:
        """Human-readable problems: 'file row N column C: reason'."""
        rows = self.quarantine.head(limit).iter_rows(named=True)
        return [
            f"{r['source_file']} row {r['source_row']} column {r['column_name']}: {r['reason']}"
            for r in rows
        ]


def attach_source(df: pl.DataFrame, source_file: str) -> pl.DataFrame:
    """Tag each row with its file and 1-based data row (header excluded)."""
    return df.with_columns(
        pl.lit(source_file).alias(SOURCE_FILE),
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias(SOURCE_ROW),
    )


def require_columns(df: pl.DataFrame, schema: TableSchema, source_file: str) -> None:
    """Fail loudly, naming the file and the columns, if required columns are absent."""
    missing = [c for c in schema.column_names if c not in df.columns]
    if missing:
        raise DataContractError(
            f"{source_file}: table {schema.name!r} is missing required column(s) "
            f"{missing}; found {[c for c in df.columns if not c.startswith('_')]}. "
            "See docs/data-contract.md."
        )


def validate_table(
    df: pl.DataFrame, schema: TableSchema, parent_keys: Mapping[str, pl.Series] | None = None,
) -> ValidationResult:
    """Cast to contract types, check nulls, ranges, allowed values, arithmetic, unique keys
    and, for each reference whose parent table is in `parent_keys`, that the key exists.

    `df` must carry `_source_file` and `_source_row` (see `attach_source`).
    `parent_keys` maps a parent table to its key values (the raw assets always pass them).
    """
    require_columns(df, schema, _first_file(df))
    extra = _extra_columns(df, schema)
    cast, problems = _cast_columns(df, schema, extra)
    problems.extend(_value_problems(cast, df, schema))
    problems.extend(_identity_problems(cast, identity) for identity in schema.identities)
    problems.extend(
        _reference_problems(cast, ref, parent_keys[ref.parent_table])
        for ref in schema.references if parent_keys and ref.parent_table in parent_keys
    )
    problems.extend(_duplicate_key_problems(cast, schema))
    bad = pl.concat(problems) if problems else _empty_problems()
    bad_rows = bad.select(SOURCE_FILE, SOURCE_ROW).unique()
    valid = cast.join(bad_rows, on=[SOURCE_FILE, SOURCE_ROW], how="anti")
    quarantine = _quarantine_frame(bad, df, schema)
    return ValidationResult(valid=valid.select(schema.column_names + extra), quarantine=quarantine)


def _first_file(df: pl.DataFrame) -> str:
    if SOURCE_FILE in df.columns and df.height:
        return str(df[SOURCE_FILE][0])
    return "<input>"


def _extra_columns(df: pl.DataFrame, schema: TableSchema) -> list[str]:
    """Columns beyond the contract that the table allows (e.g. customers' attr_*)."""
    if not schema.extra_columns_allowed:
        return []
    known = set(schema.column_names)
    return [c for c in df.columns if c not in known and not c.startswith("_")]


def _cast_columns(
    df: pl.DataFrame, schema: TableSchema, extra: list[str]
) -> tuple[pl.DataFrame, list[pl.DataFrame]]:
    """Cast each contract column; a value that does not cast is a problem, not a null."""
    exprs = [_cast_expr(c) for c in schema.columns]
    exprs += [_cast_extra_expr(df, name) for name in extra]
    cast = df.with_columns(exprs)
    problems = []
    for col in schema.columns:
        failed = df[col.name].is_not_null() & cast[col.name].is_null()
        if failed.any():
            rows = df.filter(failed)
            problems.append(
                _problem_rows(rows, col.name, _type_reason(rows[col.name], col))
            )
    return cast, problems


def _cast_expr(col: Column) -> pl.Expr:
    expr = pl.col(col.name)
    if col.dtype in (pl.Date, pl.Date()):
        # accept dates, datetimes and ISO text ("2024-03-01", "2024-03-01T00:00:00")
        return expr.cast(pl.String).str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False)
    return expr.cast(col.dtype, strict=False)


def _cast_extra_expr(df: pl.DataFrame, name: str) -> pl.Expr:
    """Extra attributes stay as given, except text that is entirely numeric."""
    if df.schema[name] == pl.String:
        as_float = df[name].cast(pl.Float64, strict=False)
        if as_float.null_count() == df[name].null_count():
            return pl.col(name).cast(pl.Float64)
    return pl.col(name)


def _type_reason(values: pl.Series, col: Column) -> pl.Series:
    dtype = col.dtype if isinstance(col.dtype, pl.DataType) else col.dtype()
    return values.cast(pl.String).map_elements(
        lambda v: f"value {v!r} is not a valid {dtype}", return_dtype=pl.String
    )


def _value_problems(
    df: pl.DataFrame, raw: pl.DataFrame, schema: TableSchema
) -> list[pl.DataFrame]:
    """Nulls in required columns, values outside [min, max], values not in `allowed`.

    A null is judged on the raw value, so a value that failed to cast is reported once.
    """
    problems = []
    for col in schema.columns:
        values = df[col.name]
        checks: list[tuple[pl.Series, str]] = []
        if not col.nullable:
            checks.append((raw[col.name].is_null(), "missing value (column is required)"))
        if col.min_value is not None:
            checks.append((values < col.min_value, f"below minimum {col.min_value}"))
        if col.max_value is not None:
            checks.append((values > col.max_value, f"above maximum {col.max_value}"))
        if col.month_start:
            checks.append((values.dt.day() != 1, "is not the first day of a month"))
        if col.allowed is not None:
            checks.append(
                (values.is_not_null() & ~values.is_in(list(col.allowed)),
                 f"not one of {list(col.allowed)}")
            )
        for mask, why in checks:
            mask = mask.fill_null(False)
            if mask.any():
                rows = df.filter(mask)
                reason = rows[col.name].cast(pl.String).map_elements(
                    lambda v, why=why: f"value {v!r} {why}", return_dtype=pl.String
                )
                problems.append(_problem_rows(rows, col.name, reason))
    return problems


def _identity_problems(df: pl.DataFrame, identity: Identity) -> pl.DataFrame:
    """Rows whose `column` disagrees with the contract's formula beyond the tolerance."""
    expected = df.select(identity.expr.alias("_expected"))["_expected"]
    actual = df[identity.column]
    gap = (actual - expected).abs()
    broken = (gap > identity.abs_tol + identity.rel_tol * expected.abs()).fill_null(False)
    rows = df.filter(broken)
    reason = pl.Series([
        f"value {a!r} is not {identity.formula} = {e:.6g} "
        f"(tolerance {identity.abs_tol:g} + {identity.rel_tol:.0%})"
        for a, e in zip(rows[identity.column], expected.filter(broken), strict=True)
    ], dtype=pl.String)
    return _problem_rows(rows, identity.column, reason)


def _reference_problems(df: pl.DataFrame, ref: Reference, known: pl.Series) -> pl.DataFrame:
    """Rows whose `ref.column` names no row of the parent table (a dangling reference)."""
    dangling = (df[ref.column].is_not_null() & ~df[ref.column].is_in(known.implode())).fill_null(
        False)
    rows = df.filter(dangling)
    reason = rows[ref.column].map_elements(
        lambda v: f"value {v!r} is not a {ref.parent_table}.{ref.parent_column}",
        return_dtype=pl.String,
    )
    return _problem_rows(rows, ref.column, reason)


def _duplicate_key_problems(df: pl.DataFrame, schema: TableSchema) -> list[pl.DataFrame]:
    """Every repeat of an already-seen key is quarantined; the first occurrence stays."""
    key = list(schema.key)
    repeat = df.select(pl.struct(key).is_first_distinct().not_().alias("dup"))["dup"]
    if not repeat.any():
        return []
    rows = df.filter(repeat)
    first_rows = df.group_by(key).agg(pl.col(SOURCE_ROW).min().alias("_first"))
    rows = rows.join(first_rows, on=key, how="left")
    reason = rows.select(
        pl.format("duplicate key {} (first seen at row {})",
                  pl.concat_str([pl.col(k).cast(pl.String) for k in key], separator="/"),
                  pl.col("_first"))
    ).to_series()
    return [_problem_rows(rows, "+".join(key), reason)]


def _problem_rows(rows: pl.DataFrame, column: str, reason: pl.Series) -> pl.DataFrame:
    return pl.DataFrame(
        {
            SOURCE_FILE: rows[SOURCE_FILE],
            SOURCE_ROW: rows[SOURCE_ROW],
            "column_name": [column] * rows.height,
            "reason": reason.alias("reason"),
        },
        schema={SOURCE_FILE: pl.String, SOURCE_ROW: pl.Int64,
                "column_name": pl.String, "reason": pl.String},
    )


def _empty_problems() -> pl.DataFrame:
    return pl.DataFrame(
        schema={SOURCE_FILE: pl.String, SOURCE_ROW: pl.Int64,
                "column_name": pl.String, "reason": pl.String}
    )


def _quarantine_frame(bad: pl.DataFrame, raw: pl.DataFrame, schema: TableSchema) -> pl.DataFrame:
    """Problems joined with the raw record (as JSON) so nothing is lost."""
    if bad.is_empty():
        return pl.DataFrame(schema=QUARANTINE_SCHEMA)
    raw_cols = [c for c in raw.columns if not c.startswith("_")]
    records = raw.select(
        SOURCE_FILE, SOURCE_ROW,
        pl.struct(raw_cols).map_elements(
            lambda r: json.dumps(r, default=str), return_dtype=pl.String
        ).alias("raw_record"),
    )
    joined = bad.join(records, on=[SOURCE_FILE, SOURCE_ROW], how="left")
    return joined.select(
        pl.lit(schema.name).alias("table_name"),
        pl.col(SOURCE_FILE).alias("source_file"),
        pl.col(SOURCE_ROW).alias("source_row"),
        "column_name", "reason", "raw_record",
    ).sort("source_file", "source_row")
