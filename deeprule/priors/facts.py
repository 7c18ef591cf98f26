"""Validated extractions flattened to (doc, field, value) rows, the format truth uses too."""

from __future__ import annotations

import json

import polars as pl

from deeprule.priors.extract import OK
from deeprule.priors.schemas import to_facts

FACT_SCHEMA: dict[str, pl.DataType] = {
    "doc_id": pl.String(),
    "customer_id": pl.String(),
    "doc_type": pl.String(),
    "doc_date": pl.Date(),
    "field": pl.String(),
    "value": pl.String(),
}


def extracted_facts(extractions: pl.DataFrame) -> pl.DataFrame:
    """One row per stated fact of every successfully extracted document."""
    rows = [
        {"doc_id": r["doc_id"], "customer_id": r["customer_id"], "doc_type": r["doc_type"],
         "doc_date": r["doc_date"], "field": field, "value": value}
        for r in extractions.filter(pl.col("status") == OK).iter_rows(named=True)
        for field, value in to_facts(r["doc_type"], json.loads(r["extraction"]))
    ]
    return pl.DataFrame(rows, schema=FACT_SCHEMA)
