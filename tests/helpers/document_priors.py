"""A hand-built `customer_priors` frame: what the LLM read, without running it."""

from datetime import date

import polars as pl

from deeprule.priors.aggregate import AS_OF, PRIORS_SCHEMA

NO_DOCUMENTS = {"categories": [], "core_brands": [], "category_sensitivity": [],
                "wanted_brands": [], "locks": [], "n_documents": 0, "n_extracted": 0,
                "n_failed": 0, "n_pending": 0, "n_conflicts": 0,
                "resolution": "no extracted documents"}


def priors_frame(rows: list[dict]) -> pl.DataFrame:
    """Rows of PRIORS_SCHEMA; unnamed fields are those of a customer without documents."""
    full = [{**{c: None for c in PRIORS_SCHEMA}, **NO_DOCUMENTS, **row} for row in rows]
    return pl.DataFrame(full, schema=PRIORS_SCHEMA)


def two_customer_priors(customer_ids: list[str]) -> pl.DataFrame:
    """The first customer has every kind of document fact, the others none:
    Laundry high, Oral Care low; in scope Laundry + Oral Care; Hair Care announced from
    2024-02; wants Fenwick; ceiling 12%; SKU0002 locked."""
    first, *rest = customer_ids
    return priors_frame([
        {"customer_id": first, "categories": ["Laundry", "Oral Care"],
         "category_sensitivity": [{"category": "Laundry", "level": "high", "doc_id": "D1"},
                                  {"category": "Oral Care", "level": "low", "doc_id": "D1"}],
         "announced_category": "Hair Care", "announced_month": date(2024, 2, 1),
         "announced_source": "D2", "wanted_brands": ["Fenwick"], "wanted_brands_source": "D1",
         "discount_ceiling": 0.12, "discount_ceiling_source": "D3",
         "locks": [{"sku_id": "SKU0002", "min_units": 5, "doc_id": "D3"}],
         "n_documents": 3, "n_extracted": 3, "resolution": "no conflicts"},
        *({"customer_id": c} for c in rest),
    ])


def every_month(priors: pl.DataFrame, months: list[date]) -> pl.DataFrame:
    """Point-in-time snapshots (`customer_priors_by_month`) holding the same facts each month."""
    return pl.concat([priors.with_columns(pl.lit(m, dtype=pl.Date).alias(AS_OF))
                      for m in months])
