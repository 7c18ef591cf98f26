"""Document facts as features of a customer x SKU x month row, from `customer_priors`.

What the LLM read in a customer's documents (deeprule/priors/aggregate.py) becomes,
for one row, numbers the demand model and the rules can use. Every column is
defined for every row: a fact no document states is 0 (`doc_sensitivity` 0 is
"medium or not stated"; `doc_sensitivity_stated` tells them apart), so a
customer without documents gets all zeros, never a null. Only the extracted
priors are read, never the simulator's truth.

| column | meaning |
|---|---|
| `doc_sensitivity` | stated price sensitivity in the row's category: -1 low, 0 medium, +1 high |
| `doc_sensitivity_stated` | 1 if a document states that sensitivity |
| `doc_in_scope` | 1 if a profile lists the category among those the customer buys |
| `doc_announced_now` | 1 if a profile announced the category from a month <= the row's |
| `doc_announced_later` | 1 if the category is announced from a month after the row's |
| `doc_brand_wanted` | 1 if a negotiation names the SKU's brand as wanted |
| `doc_discount_ceiling` | deepest discount the latest approval allows (0.15 = 15%) |
| `doc_ceiling_stated` | 1 if an approval states a ceiling |
| `doc_locked` | 1 if an approval locks this SKU for the customer (a minimum quantity) |
| `doc_has_documents` | 1 if at least one of the customer's documents was extracted |

Point in time: priors with an `as_of` column (`customer_priors_by_month`, one
snapshot per month built only from documents dated before that month) are joined
on the row's month, so a row never reads a document written in its own month or
later; a row month without a snapshot is an error, not zeros. Priors without
`as_of` (a hand-built frame) hold for every month.
"""

from __future__ import annotations

import polars as pl

from deeprule.priors.aggregate import AS_OF

SENSITIVITY_ORDINAL = {"low": -1.0, "medium": 0.0, "high": 1.0}
"""Stated levels on one ordinal scale; 'not stated' shares medium's 0 (and its flag is 0)."""
DOC_COLUMNS = ("doc_sensitivity", "doc_sensitivity_stated", "doc_in_scope", "doc_announced_now",
               "doc_announced_later", "doc_brand_wanted", "doc_discount_ceiling",
               "doc_ceiling_stated", "doc_locked", "doc_has_documents")
"""Every column `with_document_columns` adds (Float64, no nulls)."""
ROW_KEYS = ("customer_id", "sku_id", "primary_category", "month")


def with_document_columns(rows: pl.DataFrame, priors: pl.DataFrame,
                          skus: pl.DataFrame) -> pl.DataFrame:
    """`rows` (with ROW_KEYS) plus DOC_COLUMNS, row order and height unchanged."""
    missing = [k for k in ROW_KEYS if k not in rows.columns]
    if missing:
        raise ValueError(f"rows need {missing} for document features")
    keys = ["_as_of"] if AS_OF in priors.columns else []
    out = rows.with_row_index("_doc_row")
    if keys:
        out = out.join(_snapshot_of_month(rows, priors), on="month", how="left")
        priors = priors.rename({AS_OF: "_as_of"})
    brand = (skus.select("sku_id", pl.col("brand").cast(pl.String).alias("_brand"))
             if "brand" in skus.columns else skus.select("sku_id", _brand=pl.lit(None, pl.String)))
    out = (out.join(brand, on="sku_id", how="left")
           .join(_category_facts(priors, keys), on=[*keys, "customer_id", "primary_category"],
                 how="left")
           .join(_brand_facts(priors, keys), on=[*keys, "customer_id", "_brand"], how="left")
           .join(_lock_facts(priors, keys), on=[*keys, "customer_id", "sku_id"], how="left")
           .join(_customer_facts(priors, keys), on=[*keys, "customer_id"], how="left"))
    announced = pl.col("_announced_month").is_not_null()
    reached = announced & (pl.col("_announced_month") <= pl.col("month"))
    values = {
        "doc_sensitivity": pl.col("_level").replace_strict(SENSITIVITY_ORDINAL, default=0.0,
                                                           return_dtype=pl.Float64),
        "doc_sensitivity_stated": pl.col("_level").is_in(list(SENSITIVITY_ORDINAL)),
        "doc_in_scope": pl.col("_in_scope"),
        "doc_announced_now": reached,
        "doc_announced_later": announced & ~reached,
        "doc_brand_wanted": pl.col("_wanted"),
        "doc_discount_ceiling": pl.col("_ceiling"),
        "doc_ceiling_stated": pl.col("_ceiling").is_not_null(),
        "doc_locked": pl.col("_locked"),
        "doc_has_documents": pl.col("_extracted") > 0,
    }
    return out.with_columns(
        value.cast(pl.Float64).fill_null(0.0).alias(name) for name, value in values.items()
    ).sort("_doc_row").select(*rows.columns, *DOC_COLUMNS)


def _snapshot_of_month(rows: pl.DataFrame, priors: pl.DataFrame) -> pl.DataFrame:
    """Each row month and the snapshot it reads (`_as_of`: null before the first one)."""
    months = rows.select(pl.col("month").unique().sort())
    began = priors.select(pl.col(AS_OF).unique().sort().alias("_as_of"))
    return months.join_asof(began, left_on="month", right_on="_as_of", strategy="backward")


def document_inputs(columns: list[str]) -> list[str]:
    """The document features among a model's input columns."""
    return [c for c in columns if c in DOC_COLUMNS]


def _category_facts(priors: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """customer x category: stated level, in scope, announced month (outer union of the three)."""
    on = [*keys, "customer_id", "primary_category"]
    levels = (priors.select(*keys, "customer_id", "category_sensitivity")
              .explode("category_sensitivity").unnest("category_sensitivity")
              .filter(pl.col("category").is_not_null())
              .select(*keys, "customer_id", pl.col("category").alias("primary_category"),
                      pl.col("level").alias("_level")))
    scope = (priors.select(*keys, "customer_id", "categories").explode("categories")
             .filter(pl.col("categories").is_not_null())
             .select(*keys, "customer_id", pl.col("categories").alias("primary_category"),
                     _in_scope=pl.lit(1.0)).unique())
    announced = (priors.filter(pl.col("announced_category").is_not_null())
                 .select(*keys, "customer_id",
                         pl.col("announced_category").alias("primary_category"),
                         pl.col("announced_month").alias("_announced_month")))
    return (levels.join(scope, on=on, how="full", coalesce=True)
            .join(announced, on=on, how="full", coalesce=True))


def _brand_facts(priors: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    return (priors.select(*keys, "customer_id", "wanted_brands").explode("wanted_brands")
            .filter(pl.col("wanted_brands").is_not_null())
            .select(*keys, "customer_id", pl.col("wanted_brands").alias("_brand"),
                    _wanted=pl.lit(1.0))
            .unique())


def _lock_facts(priors: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    return (priors.select(*keys, "customer_id", "locks").explode("locks").unnest("locks")
            .filter(pl.col("sku_id").is_not_null())
            .select(*keys, "customer_id", "sku_id", _locked=pl.lit(1.0)).unique())


def _customer_facts(priors: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    return priors.select(*keys, "customer_id", pl.col("discount_ceiling").alias("_ceiling"),
                         pl.col("n_extracted").alias("_extracted"))
