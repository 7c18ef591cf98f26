"""Incremental document extraction: plan which documents need the LLM, run them, keep the rest.

A document goes to the model only when no earlier result exists for its
current content hash (new or edited documents), when its earlier result was
left pending by a spent budget, or when asked to retry failures / refresh
results made by another model. Every document ends as exactly one row:
`ok` (validated JSON), `failed` (the error after retries) or `pending`
(budget, document cap or circuit breaker reached first), so nothing is
silently dropped. When the client's circuit breaker opens (the same error
ended several calls in a row: a setup problem, not a document's), the run
stops, and the documents that failed with that error go back to `pending`
with the rest: after the fix, a rerun does them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from deeprule.llm import BudgetExhausted, CallRecord, CircuitOpen, LLMCallFailed, LLMClient
from deeprule.priors.prompts import extraction_prompt
from deeprule.priors.schemas import extraction_schemas
from deeprule.priors.vocabulary import Vocabulary

log = logging.getLogger(__name__)

OK, FAILED, PENDING = "ok", "failed", "pending"
EXTRACTION_SCHEMA: dict[str, pl.DataType] = {
    "doc_id": pl.String(),
    "customer_id": pl.String(),
    "doc_type": pl.String(),
    "doc_date": pl.Date(),
    "content_hash": pl.String(),
    "status": pl.String(),
    "extraction": pl.String(),
    "error": pl.String(),
    "backend": pl.String(),
    "model": pl.String(),
    "prompt_tokens": pl.Int64(),
    "completion_tokens": pl.Int64(),
    "latency_s": pl.Float64(),
    "cache_hit": pl.Boolean(),
    "attempts": pl.Int64(),
    "run_id": pl.String(),
}
DOC_COLUMNS = ["doc_id", "customer_id", "doc_type", "doc_date", "content_hash"]
DOC_PRIORITY = ("profile", "negotiation", "price_application", "approval", "reward_penalty")
"""Order in which a budget-bounded run reaches document types: profiles first, since they
carry most of p_prior (scope, brands, sensitivity, scale) that affiliation and the scorers use."""


@dataclass(frozen=True)
class ExtractionPlan:
    """Rows reused as they are, and documents that need the model."""

    kept: pl.DataFrame
    todo: pl.DataFrame
    fallback: pl.DataFrame  # earlier ok rows of to-do documents, used if they are not reached


@dataclass(frozen=True)
class ExtractionRun:
    """The complete extraction table after one run, and what the run did."""

    table: pl.DataFrame
    processed: int
    pending: int
    stopped_by: str  # "", "token_budget", "document_cap" or "circuit_breaker"
    halted: str = ""
    """The circuit breaker's message (error, endpoint, model, likely fix) if it stopped the run."""


def empty_extractions() -> pl.DataFrame:
    return pl.DataFrame(schema=EXTRACTION_SCHEMA)


def plan_extraction(
    documents: pl.DataFrame, previous: pl.DataFrame | None, *, backend: str, model: str,
    retry_failed: bool = False, refresh: bool = False,
) -> ExtractionPlan:
    """Split documents into reusable earlier rows and documents to send to the model."""
    docs = documents.select(DOC_COLUMNS)
    prev = empty_extractions() if previous is None or previous.is_empty() else previous
    same = docs.join(prev.select("doc_id", "content_hash", "status", "backend", "model"),
                     on=["doc_id", "content_hash"], how="left")
    reusable = pl.col("status") == OK
    if not retry_failed:
        reusable = reusable | (pl.col("status") == FAILED)
    if refresh:
        reusable = reusable & (pl.col("backend") == backend) & (pl.col("model") == model)
    keep_ids = same.filter(reusable.fill_null(False))["doc_id"]
    kept = prev.join(docs.select("doc_id", "content_hash"), on=["doc_id", "content_hash"],
                     how="semi").filter(pl.col("doc_id").is_in(keep_ids.implode()))
    todo = docs.filter(~pl.col("doc_id").is_in(keep_ids.implode()))
    fallback = prev.join(todo.select("doc_id", "content_hash"), on=["doc_id", "content_hash"],
                         how="semi").filter(pl.col("status") == OK)
    columns = list(EXTRACTION_SCHEMA)
    return ExtractionPlan(kept.select(columns), todo, fallback.select(columns))


def run_extraction(
    plan: ExtractionPlan, texts: pl.DataFrame, client: LLMClient, vocab: Vocabulary, run_id: str,
    *, max_documents: int = 0, progress: Callable[[str], None] = log.info,
    progress_every: int = 25,
) -> ExtractionRun:
    """Send the plan's documents to the model (types in DOC_PRIORITY) until done or out of budget.

    `texts` holds doc_id, title and text. `max_documents` > 0 caps how many
    documents this run sends (a cap on wall time that does not depend on tokens).
    """
    schemas = extraction_schemas(vocab)
    todo = plan.todo.join(texts.select("doc_id", "title", "text"), on="doc_id", how="left")
    # most useful types first; one type's instructions back to back reuse the evaluated prefix
    rank = pl.col("doc_type").replace_strict(
        {t: i for i, t in enumerate(DOC_PRIORITY)}, default=len(DOC_PRIORITY), return_dtype=pl.Int64
    )
    todo = todo.sort(rank, "doc_type", "doc_id")
    prompts = [extraction_prompt(r["doc_type"], r["title"] or "", r["text"] or "", vocab)
               if r["doc_type"] in schemas else None for r in todo.iter_rows(named=True)]
    client.prefetch((p, schemas[r["doc_type"]])
                    for p, r in zip(prompts, todo.iter_rows(named=True), strict=True) if p)
    rows: list[dict] = []
    stopped_by = halted = ""
    started = time.perf_counter()
    for i, (doc, prompt) in enumerate(zip(todo.iter_rows(named=True), prompts, strict=True)):
        if max_documents and i >= max_documents:
            stopped_by = "document_cap"
            break
        try:
            rows.append(_extract_one(doc, prompt, schemas, client, run_id))
        except BudgetExhausted:
            stopped_by = "token_budget"
            break
        except CircuitOpen as err:
            stopped_by, halted = "circuit_breaker", str(err)
            rows = _without_trailing_failures(rows, client.breaker_after - 1)
            break
        if (i + 1) % progress_every == 0:
            progress(_progress_line(rows, todo.height, client, started))
    progress(_progress_line(rows, todo.height, client, started))
    done = _frame(rows)
    rest = todo.filter(~pl.col("doc_id").is_in(done["doc_id"].implode()))
    reused = plan.fallback.filter(pl.col("doc_id").is_in(rest["doc_id"].implode()))
    pending = _pending_rows(rest.filter(~pl.col("doc_id").is_in(reused["doc_id"].implode())),
                            client, run_id)
    table = pl.concat([plan.kept, done, reused, pending]).sort("doc_id")
    if stopped_by:
        progress(f"extraction stopped by {stopped_by}: {rest.height} document(s) left for "
                 f"the next run ({reused.height} keep an earlier result)")
    return ExtractionRun(table, processed=done.height, pending=pending.height,
                         stopped_by=stopped_by, halted=halted)


def _without_trailing_failures(rows: list[dict], streak: int) -> list[dict]:
    """Rows minus the `streak` failures that opened the circuit: they were the setup's fault,
    not their documents', so they become pending like the documents not reached."""
    end = len(rows)
    while end > len(rows) - streak and end and rows[end - 1]["status"] == FAILED:
        end -= 1
    return rows[:end]


def _extract_one(doc: dict, prompt, schemas: dict, client: LLMClient, run_id: str) -> dict:
    base = {k: doc[k] for k in DOC_COLUMNS} | {"run_id": run_id}
    if prompt is None:
        return base | _accounting(None, client) | {
            "status": FAILED, "extraction": None,
            "error": f"no extraction schema for doc_type {doc['doc_type']!r}",
        }
    try:
        result = client.generate(prompt, schemas[doc["doc_type"]])
    except LLMCallFailed as err:
        return base | _accounting(err.record, client) | {
            "status": FAILED, "extraction": None, "error": str(err)[:2_000],
        }
    return base | _accounting(result.record, client) | {
        "status": OK, "extraction": result.value.model_dump_json(), "error": None,
    }


def _accounting(record: CallRecord | None, client: LLMClient) -> dict:
    return {
        "backend": client.backend.name, "model": client.backend.model,
        "prompt_tokens": record.prompt_tokens if record else 0,
        "completion_tokens": record.completion_tokens if record else 0,
        "latency_s": round(record.latency_s, 4) if record else 0.0,
        "cache_hit": record.cache_hit if record else False,
        "attempts": record.attempts if record else 0,
    }


def _pending_rows(docs: pl.DataFrame, client: LLMClient, run_id: str) -> pl.DataFrame:
    rows = [
        {k: d[k] for k in DOC_COLUMNS} | _accounting(None, client) | {
            "status": PENDING, "extraction": None, "run_id": run_id,
            "error": "not extracted in this run (budget, cap or stopped); a later run will",
        }
        for d in docs.iter_rows(named=True)
    ]
    return _frame(rows)


def _frame(rows: list[dict]) -> pl.DataFrame:
    if not rows:
        return empty_extractions()
    return pl.DataFrame(rows, schema=EXTRACTION_SCHEMA)


def _progress_line(rows: list[dict], total: int, client: LLMClient, started: float) -> str:
    """attempted / ok / failed / pending of this run's documents, speed and budget."""
    elapsed = time.perf_counter() - started
    ok = sum(r["status"] == OK for r in rows)
    left = client.budget_left
    budget = "unlimited" if left is None else f"{left} tokens left"
    return (f"documents: {len(rows)} attempted, {ok} ok, {len(rows) - ok} failed, "
            f"{total - len(rows)} pending of {total} in {elapsed:.0f}s "
            f"({60 * len(rows) / max(elapsed, 1e-9):.1f} attempted/min; budget {budget})")
