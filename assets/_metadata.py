"""Metadata every asset attaches: row counts, timings, column schema and a preview."""

from __future__ import annotations

from typing import Any

import dagster as dg
import polars as pl


def markdown_preview(df: pl.DataFrame, rows: int = 10) -> str:
    """A small markdown table of the first rows (long text cut) for the Dagster UI."""
    head = df.head(rows)
    cells = [[_short(v) for v in row] for row in head.iter_rows()]
    header = "| " + " | ".join(head.columns) + " |"
    rule = "|" + "---|" * len(head.columns)
    body = ["| " + " | ".join(r) + " |" for r in cells]
    return "\n".join([header, rule, *body])


def _short(value: Any, width: int = 40) -> str:
    text = str(value).replace("|", "/").replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def column_schema(df: pl.DataFrame) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[dg.TableColumn(name, str(dtype)) for name, dtype in df.schema.items()]
    )


def frame_metadata(df: pl.DataFrame, seconds: float, **extra: Any) -> dict[str, Any]:
    """Standard metadata for an asset that returns a polars frame."""
    return {
        "dagster/row_count": df.height,
        "dagster/column_schema": column_schema(df),
        "seconds": round(seconds, 3),
        "preview": dg.MetadataValue.md(markdown_preview(df)),
        **extra,
    }
