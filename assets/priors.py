"""LLM-extracted customer priors: document extractions, p_prior, R(s,a) and the decision set D.

`document_extractions` is incremental by content hash and bounded by the LLM
resource's token budget (remaining documents stay `pending` for the next run);
the other assets aggregate its validated rows (logic in deeprule/priors/).
`extraction_vs_truth` (assets/evaluation.py) scores extractions against the
simulator's document truth.
"""

import time

import dagster as dg
import polars as pl
from dagster_duckdb import DuckDBResource

from assets._metadata import frame_metadata, table_markdown
from assets._tables import read_table_or_none
from deeprule.priors import aggregate
from deeprule.priors.extract import FAILED, OK, PENDING, plan_extraction, run_extraction
from deeprule.priors.facts import extracted_facts
from deeprule.priors.schemas import extraction_schemas
from deeprule.priors.vocabulary import Vocabulary
from resources.llm import LLMResource

GROUP = "priors"
EXTRACTIONS = dg.AssetKey("document_extractions")


class ExtractionConfig(dg.Config):
    """Run-time knobs of one extraction run."""

    max_documents: int = 0
    """Send at most this many documents to the model in this run (0 = no cap)."""
    retry_failed: bool = False
    """Send documents whose earlier extraction failed again."""
    refresh: bool = False
    """Re-extract documents last extracted by a different backend/model."""



@dg.asset(
    group_name=GROUP, kinds={"polars", "duckdb"}, pool="duckdb",
    description="Validated structured facts per document (ok / failed / pending), incremental "
    "by content hash.",
)
def document_extractions(
    context: dg.AssetExecutionContext, config: ExtractionConfig, raw_documents: pl.DataFrame,
    skus: pl.DataFrame, llm: LLMResource, duckdb: DuckDBResource,
) -> dg.Output[pl.DataFrame]:
    started = time.perf_counter()
    previous = read_table_or_none(duckdb, "document_extractions")
    with llm.client("extraction") as client:
        plan = plan_extraction(
            raw_documents, previous, backend=client.backend.name, model=client.backend.model,
            retry_failed=config.retry_failed, refresh=config.refresh,
        )
        context.log.info(f"{plan.todo.height} of {raw_documents.height} documents need the "
                         f"model ({plan.kept.height} unchanged results kept)")
        run = run_extraction(plan, raw_documents, client, Vocabulary.from_catalog(skus),
                             context.run_id, max_documents=config.max_documents,
                             progress=context.log.info)
    seconds = time.perf_counter() - started
    counts = run.table["status"].value_counts()
    by_status = dict(zip(counts["status"].to_list(), counts["count"].to_list(), strict=True))
    if run.halted:  # nothing stored: a rerun after the fix resumes (answers so far are cached)
        raise dg.Failure(description=run.halted, metadata={
            "documents_ok": by_status.get(OK, 0), "documents_pending": run.pending,
            "backend": client.backend.name, "model": client.backend.model})
    return dg.Output(run.table, metadata=frame_metadata(
        run.table, seconds,
        backend=client.backend.name, model=client.backend.model,
        documents_sent=plan.todo.height, documents_attempted=run.processed,
        documents_ok=by_status.get(OK, 0), documents_failed=by_status.get(FAILED, 0),
        documents_pending=by_status.get(PENDING, 0), stopped_by=run.stopped_by or "done",
        token_budget=client.token_budget,
        documents_per_minute=round(60 * run.processed / max(seconds, 1e-9), 2),
        **client.usage.summary(),
    ))


def _status_count(duckdb: DuckDBResource, status: str) -> tuple[int, list[str]]:
    with duckdb.get_connection() as conn:
        rows = conn.execute(
            "SELECT doc_id, error FROM document_extractions WHERE status = ? ORDER BY doc_id",
            [status],
        ).fetchall()
    return len(rows), [f"{d}: {(e or '')[:160]}" for d, e in rows[:10]]


@dg.asset_check(asset=EXTRACTIONS, name="no_failed_extractions",
                description="Documents the model could not extract after retries (rows, not "
                "crashes); WARN so a run with a few failures still proceeds.")
def no_failed_extractions(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    failed, examples = _status_count(duckdb, FAILED)
    return dg.AssetCheckResult(passed=failed == 0, severity=dg.AssetCheckSeverity.WARN,
                               metadata={"failed_documents": failed,
                                         "examples": "\n".join(examples)})


@dg.asset_check(asset=EXTRACTIONS, name="no_pending_extractions",
                description="Documents not yet reached because the token budget or document "
                "cap was hit; the next run continues with them.")
def no_pending_extractions(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    pending, _ = _status_count(duckdb, PENDING)
    return dg.AssetCheckResult(passed=pending == 0, severity=dg.AssetCheckSeverity.WARN,
                               metadata={"pending_documents": pending})


@dg.asset_check(asset=EXTRACTIONS, name="every_document_accounted",
                additional_deps=[dg.AssetKey("raw_documents")], blocking=True,
                description="Exactly one extraction row per raw document, at its current hash.")
def every_document_accounted(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    with duckdb.get_connection() as conn:
        row = conn.execute("""
            SELECT
              (SELECT count(*) FROM raw_documents r LEFT JOIN document_extractions e
                 ON r.doc_id = e.doc_id AND r.content_hash = e.content_hash
               WHERE e.doc_id IS NULL),
              (SELECT count(*) - count(DISTINCT doc_id) FROM document_extractions)
        """).fetchone()
    missing, duplicated = (int(row[0]), int(row[1])) if row else (0, 0)
    return dg.AssetCheckResult(passed=missing == 0 and duplicated == 0,
                               metadata={"missing": missing, "duplicated": duplicated})


@dg.asset_check(asset=EXTRACTIONS, name="extractions_within_schema",
                additional_deps=[dg.AssetKey("skus")], blocking=True,
                description="Every stored extraction re-validates against its schema (enums, "
                "bounds, no extra keys): a document can only fill its own checked fields.")
def extractions_within_schema(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    extractions = read_table_or_none(duckdb, "document_extractions")
    skus = read_table_or_none(duckdb, "skus")
    schemas = extraction_schemas(Vocabulary.from_catalog(skus if skus is not None else
                                                         pl.DataFrame()))
    bad = []
    ok_rows = pl.DataFrame() if extractions is None else extractions.filter(pl.col("status") == OK)
    for doc_id, doc_type, text in ok_rows.select("doc_id", "doc_type", "extraction").iter_rows():
        try:
            schemas[doc_type].model_validate_json(text)
        except (KeyError, ValueError) as err:
            bad.append(f"{doc_id}: {str(err)[:120]}")
    return dg.AssetCheckResult(passed=not bad, metadata={"checked": ok_rows.height,
                                                         "invalid": len(bad),
                                                         "examples": "\n".join(bad[:10])})


@dg.asset(group_name=GROUP, kinds={"polars", "duckdb"}, pool="duckdb",
          description="Per-customer prior p_prior from the extractions, with how contradictions "
          "were resolved. Every customer has a row.")
def customer_priors(customers: pl.DataFrame, document_extractions: pl.DataFrame
                    ) -> dg.Output[pl.DataFrame]:
    started = time.perf_counter()
    facts = extracted_facts(document_extractions)
    df = aggregate.customer_priors(customers["customer_id"].to_list(), document_extractions,
                                   facts)
    return dg.Output(df, metadata=frame_metadata(
        df, time.perf_counter() - started,
        customers_with_prior=int((df["n_extracted"] > 0).sum()),
        customers_with_conflicts=int((df["n_conflicts"] > 0).sum()),
        customers_without_extraction=int((df["n_extracted"] == 0).sum()),
    ))


@dg.asset(group_name=GROUP, kinds={"polars", "duckdb"}, pool="duckdb",
          description="customer_priors as they stood when each month began (column as_of): "
          "only documents dated before it count; a snapshot each month a document changes "
          "them. What the demand model, the rules and the plans read, as of a row's month, "
          "so no month sees a document written in or after it.")
def customer_priors_by_month(customers: pl.DataFrame, document_extractions: pl.DataFrame
                             ) -> dg.Output[pl.DataFrame]:
    started = time.perf_counter()
    df = aggregate.priors_by_month(customers["customer_id"].to_list(), document_extractions,
                                   extracted_facts(document_extractions))
    with_documents = (df.group_by(aggregate.AS_OF)
                      .agg(customers_with_documents=(pl.col("n_extracted") > 0).sum())
                      .sort(aggregate.AS_OF))
    months = with_documents[aggregate.AS_OF]
    return dg.Output(df, metadata=frame_metadata(
        df, time.perf_counter() - started, snapshots=len(months),
        first_snapshot=str(months.min()), last_snapshot=str(months.max()),
        customers_with_documents_by_month=dg.MetadataValue.md(table_markdown(with_documents)),
    ))


@dg.asset_check(asset=dg.AssetKey("customer_priors"), name="one_row_per_customer",
                additional_deps=[dg.AssetKey("customers")], blocking=True,
                description="No customer dropped or duplicated; price sensitivity in [0, 1].")
def one_row_per_customer(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    with duckdb.get_connection() as conn:
        row = conn.execute("""
            SELECT
              (SELECT count(*) FROM customers c ANTI JOIN customer_priors p USING (customer_id)),
              (SELECT count(*) - count(DISTINCT customer_id) FROM customer_priors),
              (SELECT count(*) FROM customer_priors
                 WHERE price_sensitivity < 0 OR price_sensitivity > 1)
        """).fetchone()
    missing, duplicated, out_of_range = (int(v) for v in row) if row else (0, 0, 0)
    return dg.AssetCheckResult(
        passed=missing == duplicated == out_of_range == 0,
        metadata={"missing": missing, "duplicated": duplicated, "out_of_range": out_of_range},
    )


@dg.asset(group_name=GROUP, kinds={"polars", "duckdb"}, pool="duckdb",
          description="R(s,a): mean signed reward per (state, action) over extracted "
          "reward/penalty events (penalties negative).")
def reward_table(document_extractions: pl.DataFrame) -> dg.Output[pl.DataFrame]:
    started = time.perf_counter()
    df = aggregate.reward_table(extracted_facts(document_extractions))
    return dg.Output(df, metadata=frame_metadata(df, time.perf_counter() - started))


@dg.asset(group_name=GROUP, kinds={"polars", "duckdb"}, pool="duckdb",
          description="Decision set D: price applications (features x) with the approval that "
          "answered them (label y; null when not extracted).")
def decision_set(document_extractions: pl.DataFrame) -> dg.Output[pl.DataFrame]:
    started = time.perf_counter()
    df = aggregate.decision_set(document_extractions, extracted_facts(document_extractions))
    return dg.Output(df, metadata=frame_metadata(
        df, time.perf_counter() - started, labelled=int(df["approved"].is_not_null().sum()),
    ))
