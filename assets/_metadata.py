"""Metadata every asset attaches: row counts, timings, column schema and a preview."""

from __future__ import annotations

from typing import Any

import dagster as dg
import polars as pl
import polars.selectors as cs


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


def table_markdown(frame: pl.DataFrame) -> str:
    """Every row, floats rounded, as a markdown table."""
    return markdown_preview(frame.with_columns(cs.float().round(4)), rows=frame.height)


def no_truth(empty: pl.DataFrame) -> dg.Output[pl.DataFrame]:
    """What a truth table or an evaluation asset writes for user data: nothing (no truth)."""
    return dg.Output(empty, metadata={"dagster/row_count": 0, "note": "user data has no truth"})
