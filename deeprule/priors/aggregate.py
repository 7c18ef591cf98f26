"""Customer priors p_prior, the reward table R(s,a) and the decision set D from extracted facts.

Contradictions between a customer's documents are resolved by fixed, recorded
rules (each customer's `resolution` says which applied):

- price sensitivity: a profile (the account team's considered assessment) is
  preferred over a negotiation note (a buyer's bargaining posture, which tends
  to be overstated); among statements of the same kind the latest wins.
- scale band: the latest profile wins.
- categories and core brands: the union of all statements (a category a
  customer applied for a discount in, or a brand any document names, is
  evidence of interest; for an affiliation prior, missing one costs more than
  including one too many).
- announced category (and its start month): the latest profile wins (plans move).
- per-category sensitivity: per category, the latest negotiation statement.
- wanted brands: the union of all statements.
- discount ceiling: the latest approval wins (an older one may be quoted).
- locks: per SKU, the latest statement of its minimum.
Each of these new facts keeps the document it came from (`*_source`, `doc_id`).
"""

from __future__ import annotations

from datetime import date

import polars as pl

from deeprule.priors.extract import FAILED, OK, PENDING

PRICE_LEVEL_VALUE = {"low": 1 / 6, "medium": 1 / 2, "high": 5 / 6}
"""Bands mapped to the midpoints of the thirds of [0, 1]."""
SOURCE_RANK = {"profile": 0, "negotiation": 1}

AS_OF = "as_of"
"""Column of `priors_by_month`: the month a snapshot describes the start of."""
PRIORS_SCHEMA: dict[str, pl.DataType] = {
    "customer_id": pl.String(),
    "price_sensitivity": pl.Float64(),
    "price_sensitivity_level": pl.String(),
    "categories": pl.List(pl.String()),
    "core_brands": pl.List(pl.String()),
    "scale_band": pl.String(),
    "approval_rate": pl.Float64(),
    "mean_requested_discount": pl.Float64(),
    "net_reward": pl.Float64(),
    "announced_category": pl.String(),
    "announced_month": pl.Date(),
    "announced_source": pl.String(),
    "category_sensitivity": pl.List(pl.Struct(
        {"category": pl.String(), "level": pl.String(), "doc_id": pl.String()})),
    "wanted_brands": pl.List(pl.String()),
    "wanted_brands_source": pl.String(),
    "discount_ceiling": pl.Float64(),
    "discount_ceiling_source": pl.String(),
    "locks": pl.List(pl.Struct(
        {"sku_id": pl.String(), "min_units": pl.Int64(), "doc_id": pl.String()})),
    "n_documents": pl.Int64(),
    "n_extracted": pl.Int64(),
    "n_failed": pl.Int64(),
    "n_pending": pl.Int64(),
    "n_conflicts": pl.Int64(),
    "resolution": pl.String(),
}


def customer_priors(
    customer_ids: list[str], extractions: pl.DataFrame, facts: pl.DataFrame
) -> pl.DataFrame:
    """One row per customer (none dropped: no extraction means nulls and empty lists)."""
    ids = sorted(set(customer_ids))
    base = pl.DataFrame({"customer_id": ids}, schema={"customer_id": pl.String})
    parts = [
        _document_counts(extractions), _price_sensitivity(facts), _scale_band(facts),
        _union(facts, "categories", ["categories", "category"]),
        _union(facts, "core_brands", ["core_brands"]), _decision_stats(facts),
        _reward_stats(facts), _announced(facts), _category_sensitivity(facts),
        _wanted_brands(facts), _discount_ceiling(facts), _locks(facts),
    ]
    out = base
    for part in parts:
        out = out.join(part, on="customer_id", how="left")
    out = out.with_columns(
        pl.col("categories").fill_null(pl.lit([], dtype=pl.List(pl.String))),
        pl.col("core_brands").fill_null(pl.lit([], dtype=pl.List(pl.String))),
        pl.col("wanted_brands").fill_null(pl.lit([], dtype=pl.List(pl.String))),
        pl.col("category_sensitivity").fill_null(
            pl.lit([], dtype=PRIORS_SCHEMA["category_sensitivity"])),
        pl.col("locks").fill_null(pl.lit([], dtype=PRIORS_SCHEMA["locks"])),
        *(pl.col(c).fill_null(0) for c in ("n_documents", "n_extracted", "n_failed", "n_pending")),
    )
    return _with_resolution(out).select(list(PRIORS_SCHEMA)).cast(PRIORS_SCHEMA)


def priors_by_month(customer_ids: list[str], extractions: pl.DataFrame, facts: pl.DataFrame,
                    months: list[date] | None = None) -> pl.DataFrame:
    """`customer_priors` as each month in `months` began (column `as_of`): only documents
    dated before it count, so a month never reads a document written in or after it.

    By default the months are those where the priors can change: the first of the month
    after each month a document is dated in. A month between two snapshots reads the
    latest one before it (`snapshot_at`, and the as-of join of features/documents.py)."""
    chosen = sorted(set(months if months is not None else change_months(extractions)))
    snapshots = [
        customer_priors(customer_ids, extractions.filter(pl.col("doc_date") < month),
                        facts.filter(pl.col("doc_date") < month))
        .with_columns(pl.lit(month, dtype=pl.Date).alias(AS_OF))
        for month in chosen
    ]
    if not snapshots:
        return pl.DataFrame(schema={**PRIORS_SCHEMA, AS_OF: pl.Date()})
    return pl.concat(snapshots)


def change_months(extractions: pl.DataFrame) -> list[date]:
    """The first of the month after each month a document is dated in."""
    return sorted(set(extractions.select(
        pl.col("doc_date").dt.month_start().dt.offset_by("1mo")).to_series().drop_nulls()))


def snapshot_at(priors: pl.DataFrame, month: date) -> pl.DataFrame:
    """The latest snapshot that began on or before `month` (no rows if none did)."""
    began = priors.filter(pl.col(AS_OF) <= month)
    if began.is_empty():
        return began
    return began.filter(pl.col(AS_OF) == began[AS_OF].max())


def _document_counts(extractions: pl.DataFrame) -> pl.DataFrame:
    return extractions.group_by("customer_id").agg(
        pl.len().cast(pl.Int64).alias("n_documents"),
        (pl.col("status") == OK).sum().cast(pl.Int64).alias("n_extracted"),
        (pl.col("status") == FAILED).sum().cast(pl.Int64).alias("n_failed"),
        (pl.col("status") == PENDING).sum().cast(pl.Int64).alias("n_pending"),
    )


def _statements(facts: pl.DataFrame, field: str) -> pl.DataFrame:
    return facts.filter(pl.col("field") == field)


def _price_sensitivity(facts: pl.DataFrame) -> pl.DataFrame:
    """The preferred statement (profile first, then latest) and how many levels were stated."""
    stated = _statements(facts, "price_sensitivity").with_columns(
        pl.col("doc_type").replace_strict(SOURCE_RANK, default=len(SOURCE_RANK)).alias("rank")
    )
    return stated.sort(["rank", "doc_date", "doc_id"], descending=[False, True, True]).group_by(
        "customer_id", maintain_order=True
    ).agg(
        pl.col("value").first().alias("price_sensitivity_level"),
        pl.col("doc_type").first().alias("ps_source"),
        pl.col("value").n_unique().alias("ps_levels"),
    ).with_columns(
        pl.col("price_sensitivity_level").replace_strict(PRICE_LEVEL_VALUE, default=None)
        .cast(pl.Float64).alias("price_sensitivity")
    )


def _scale_band(facts: pl.DataFrame) -> pl.DataFrame:
    return _statements(facts, "scale_band").sort(
        ["doc_date", "doc_id"], descending=True
    ).group_by("customer_id", maintain_order=True).agg(
        pl.col("value").first().alias("scale_band"),
        pl.col("value").n_unique().alias("scale_levels"),
    )


def _union(facts: pl.DataFrame, name: str, fields: list[str]) -> pl.DataFrame:
    """Union of '|'-joined lists across statements, and how many distinct lists there were."""
    stated = facts.filter(pl.col("field").is_in(fields))
    return stated.group_by("customer_id").agg(
        pl.col("value").str.split("|").explode().unique().sort().alias(name),
        pl.col("value").filter(pl.col("field") == fields[0]).n_unique().alias(f"{name}_lists"),
    )


def _latest(facts: pl.DataFrame, field: str) -> pl.DataFrame:
    """Statements of `field`, newest first (by document date, then id)."""
    return _statements(facts, field).sort(["doc_date", "doc_id"], descending=True)


def _announced(facts: pl.DataFrame) -> pl.DataFrame:
    """The latest announcement: category, first month, source document, distinct statements."""
    parts = pl.col("value").str.split("|")
    return _latest(facts, "announced_category").group_by("customer_id", maintain_order=True).agg(
        parts.first().list.get(0).alias("announced_category"),
        parts.first().list.get(1).str.to_date("%Y-%m-%d", strict=False).alias("announced_month"),
        pl.col("doc_id").first().alias("announced_source"),
        pl.col("value").n_unique().alias("announced_versions"),
    )


def _category_sensitivity(facts: pl.DataFrame) -> pl.DataFrame:
    """Per category the latest stated level, with its document."""
    parts = pl.col("value").str.split("|")
    stated = _latest(facts, "category_sensitivity").with_columns(
        parts.list.get(0).alias("category"), parts.list.get(1).alias("level"))
    latest = stated.group_by("customer_id", "category", maintain_order=True).first()
    return latest.sort("customer_id", "category").group_by("customer_id").agg(
        pl.struct("category", "level", "doc_id").alias("category_sensitivity"))


def _wanted_brands(facts: pl.DataFrame) -> pl.DataFrame:
    return _statements(facts, "wanted_brands").group_by("customer_id").agg(
        pl.col("value").str.split("|").explode().unique().sort().alias("wanted_brands"),
        pl.col("doc_id").unique().sort().str.join("|").alias("wanted_brands_source"),
    )


def _discount_ceiling(facts: pl.DataFrame) -> pl.DataFrame:
    return _latest(facts, "discount_ceiling").group_by("customer_id", maintain_order=True).agg(
        pl.col("value").first().cast(pl.Float64, strict=False).alias("discount_ceiling"),
        pl.col("doc_id").first().alias("discount_ceiling_source"),
        pl.col("value").n_unique().alias("ceiling_versions"),
    )


def _locks(facts: pl.DataFrame) -> pl.DataFrame:
    """Per locked SKU the latest stated minimum, with its document."""
    parts = pl.col("value").str.split("|")
    stated = _latest(facts, "locked_sku").with_columns(
        parts.list.get(0).alias("sku_id"),
        parts.list.get(1).cast(pl.Int64, strict=False).alias("min_units"))
    latest = stated.group_by("customer_id", "sku_id", maintain_order=True).first()
    return latest.sort("customer_id", "sku_id").group_by("customer_id").agg(
        pl.struct("sku_id", "min_units", "doc_id").alias("locks"))


def _decision_stats(facts: pl.DataFrame) -> pl.DataFrame:
    approved = _statements(facts, "approved").group_by("customer_id").agg(
        (pl.col("value") == "true").mean().alias("approval_rate")
    )
    requested = _statements(facts, "requested_discount").group_by("customer_id").agg(
        pl.col("value").cast(pl.Float64).mean().alias("mean_requested_discount")
    )
    return approved.join(requested, on="customer_id", how="full", coalesce=True)


def _reward_stats(facts: pl.DataFrame) -> pl.DataFrame:
    return reward_events(facts).group_by("customer_id").agg(
        pl.col("reward").sum().alias("net_reward")
    )


def _with_resolution(priors: pl.DataFrame) -> pl.DataFrame:
    """A readable account of each contradiction and the rule that resolved it."""
    notes = [
        pl.when(pl.col("ps_levels") > 1).then(pl.format(
            "price_sensitivity: {} levels stated, kept {} from the {}",
            pl.col("ps_levels"), pl.col("price_sensitivity_level"), pl.col("ps_source"),
        )),
        pl.when(pl.col("scale_levels") > 1).then(
            pl.lit("scale_band: profiles disagree, kept the latest")),
        pl.when(pl.col("categories_lists") > 1).then(
            pl.lit("categories: profiles disagree, kept the union")),
        pl.when(pl.col("core_brands_lists") > 1).then(pl.format(
            "core_brands: {} different lists, kept the union", pl.col("core_brands_lists"))),
        pl.when(pl.col("announced_versions") > 1).then(pl.format(
            "announced_category: {} versions, kept {}", pl.col("announced_versions"),
            pl.col("announced_source"))),
        pl.when(pl.col("ceiling_versions") > 1).then(pl.format(
            "discount_ceiling: {} values stated, kept {}", pl.col("ceiling_versions"),
            pl.col("discount_ceiling_source"))),
    ]
    conflicts = pl.sum_horizontal(n.is_not_null().cast(pl.Int64) for n in notes)
    text = pl.concat_str(notes, separator="; ", ignore_nulls=True)
    return priors.with_columns(conflicts.alias("n_conflicts"), text.alias("_notes")).with_columns(
        pl.when(pl.col("n_extracted") == 0).then(pl.lit("no extracted documents"))
        .when(pl.col("n_conflicts") == 0).then(pl.lit("no conflicts"))
        .otherwise(pl.col("_notes")).alias("resolution")
    )


def reward_events(facts: pl.DataFrame) -> pl.DataFrame:
    """Reward/penalty events with a signed reward (penalties negative)."""
    parts = _statements(facts, "event").with_columns(
        pl.col("value").str.split("|").alias("_p")
    ).with_columns(
        pl.col("_p").list.get(0).alias("state"),
        pl.col("_p").list.get(1).alias("action"),
        pl.col("_p").list.get(2).cast(pl.Float64).alias("amount"),
    )
    sign = pl.when(pl.col("action") == "penalty").then(-1.0).otherwise(1.0)
    return parts.select(
        "customer_id", "doc_id", "state", "action", "amount",
        (sign * pl.col("amount")).alias("reward"),
    )


def reward_table(facts: pl.DataFrame) -> pl.DataFrame:
    """R(s, a): the mean signed reward of each (state, action) over all extracted events."""
    return reward_events(facts).group_by("state", "action").agg(
        pl.len().cast(pl.Int64).alias("n_events"),
        pl.col("customer_id").n_unique().cast(pl.Int64).alias("n_customers"),
        pl.col("reward").mean().alias("reward"),
        pl.col("amount").mean().alias("mean_amount"),
        pl.col("amount").min().alias("min_amount"),
        pl.col("amount").max().alias("max_amount"),
    ).sort("state", "action")


DECISION_SCHEMA: dict[str, pl.DataType] = {
    "customer_id": pl.String(),
    "application_doc_id": pl.String(),
    "approval_doc_id": pl.String(),
    "category": pl.String(),
    "requested_discount": pl.Float64(),
    "volume_commitment": pl.Int64(),
    "application_sentiment": pl.String(),
    "approved": pl.Boolean(),
    "approved_discount": pl.Float64(),
    "decision_sentiment": pl.String(),
}


def decision_set(extractions: pl.DataFrame, facts: pl.DataFrame) -> pl.DataFrame:
    """D = {(x_i, y_i)}: each price application with the approval that answered it.

    A customer's k-th application (by date, then id) is paired with its k-th
    approval, counting every document whatever its extraction status so that a
    failed extraction cannot shift the pairing. Applications without an
    extracted answer keep a null label.
    """
    apps = _ranked(extractions, "price_application", "application_doc_id").join(
        _wide(facts, "price_application", "application_doc_id", {
            "category": "category", "requested_discount": "requested_discount",
            "volume_commitment": "volume_commitment", "sentiment": "application_sentiment"}),
        on="application_doc_id", how="left")
    answers = _ranked(extractions, "approval", "approval_doc_id").join(
        _wide(facts, "approval", "approval_doc_id", {
            "approved": "approved", "approved_discount": "approved_discount",
            "sentiment": "decision_sentiment"}),
        on="approval_doc_id", how="left")
    paired = apps.join(answers, on=["customer_id", "k"], how="left")
    return paired.with_columns(
        pl.col("approved").replace_strict({"true": True, "false": False}, default=None),
    ).select(list(DECISION_SCHEMA)).cast(DECISION_SCHEMA, strict=False).sort("customer_id",
                                                                        "application_doc_id")


def _wide(facts: pl.DataFrame, doc_type: str, alias: str, renames: dict[str, str]) -> pl.DataFrame:
    """One row per document of `doc_type`, one column per stated field (renamed)."""
    return facts.filter(pl.col("doc_type") == doc_type).group_by("doc_id").agg(
        pl.col("value").filter(pl.col("field") == field).first().alias(name)
        for field, name in renames.items()
    ).rename({"doc_id": alias})


def _ranked(extractions: pl.DataFrame, doc_type: str, alias: str) -> pl.DataFrame:
    """Each customer's documents of `doc_type` numbered k = 0, 1, ... by date, then id."""
    return extractions.filter(pl.col("doc_type") == doc_type).sort(
        "customer_id", "doc_date", "doc_id"
    ).select(
        "customer_id", pl.col("doc_id").alias(alias),
        pl.int_range(pl.len()).over("customer_id").alias("k"),
    )
