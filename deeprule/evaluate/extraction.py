"""Extraction quality against what each document truly states (evaluation only).

Per (doc_type, field): exact-match accuracy for single values, micro-averaged
F1 for lists (categories, brands) and for reward/penalty events (as full
state|action|amount triples, and as state|action pairs). Scores cover the
documents that were extracted; `coverage` says what share of documents that is.
"""

from __future__ import annotations

from collections import Counter

import polars as pl

from deeprule.priors.extract import OK
from deeprule.priors.facts import FACT_SCHEMA

SET_FIELDS = {"categories", "core_brands"}
QUALITY_SCHEMA: dict[str, pl.DataType] = {
    "doc_type": pl.String(),
    "field": pl.String(),
    "metric": pl.String(),
    "value": pl.Float64(),
    "n_docs": pl.Int64(),
    "n_truth_docs": pl.Int64(),
    "coverage": pl.Float64(),
}


def score_extractions(extracted: pl.DataFrame, truth: pl.DataFrame) -> pl.DataFrame:
    """Per-field scores of `extracted` against `truth` (both doc_id, doc_type, field, value)."""
    rows = []
    for (doc_type, field), group in truth.group_by(["doc_type", "field"], maintain_order=True):
        ours = extracted.filter((pl.col("doc_type") == doc_type) & (pl.col("field") == field))
        got = _by_doc(ours)
        want = _by_doc(group)
        scored = [d for d in want if d in got]
        base = {"doc_type": doc_type, "n_docs": len(scored), "n_truth_docs": len(want),
                "coverage": len(scored) / len(want) if want else 0.0}
        if field == "event":
            rows.append(base | {"field": "event", "metric": "f1",
                                "value": _f1(got, want, scored, lambda v: v)})
            rows.append(base | {"field": "event_state_action", "metric": "f1",
                                "value": _f1(got, want, scored, _state_action)})
        elif field in SET_FIELDS:
            rows.append(base | {"field": field, "metric": "f1",
                                "value": _f1(got, want, scored, _split)})
        else:
            hits = sum(got[d] == want[d] for d in scored)
            rows.append(base | {"field": field, "metric": "accuracy",
                                "value": hits / len(scored) if scored else None})
    return pl.DataFrame(rows, schema=QUALITY_SCHEMA).sort("doc_type", "field")


def _by_doc(facts: pl.DataFrame) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for doc_id, value in facts.select("doc_id", "value").iter_rows():
        out.setdefault(doc_id, []).append(value)
    return out


def _split(values: list[str]) -> list[str]:
    return [item for v in values for item in v.split("|") if item]


def _state_action(values: list[str]) -> list[str]:
    return ["|".join(v.split("|")[:2]) for v in values]


def _f1(got: dict, want: dict, docs: list[str], items) -> float | None:
    """Micro F1 over documents, counting repeated items as a multiset."""
    tp = fp = fn = 0
    for d in docs:
        g, w = Counter(items(got[d])), Counter(items(want[d]))
        common = sum((g & w).values())
        tp, fp, fn = tp + common, fp + sum(g.values()) - common, fn + sum(w.values()) - common
    if not docs or tp + fp + fn == 0:
        return None
    return 2 * tp / (2 * tp + fp + fn)


def stated_facts(documents: pl.DataFrame, truth: pl.DataFrame) -> pl.DataFrame:
    """What a perfect extraction would give: the documents' true statements (`truth`, e.g.
    `World.document_facts()`) dated by their document, in the extracted-facts format."""
    dated = truth.join(documents.select("doc_id", "doc_date"), on="doc_id", how="left")
    return dated.select(list(FACT_SCHEMA)).cast(FACT_SCHEMA)


def perfect_extractions(documents: pl.DataFrame) -> pl.DataFrame:
    """Every document as extracted (status ok): the document counts of `customer_priors`."""
    return documents.select("doc_id", "customer_id", "doc_type", "doc_date",
                            status=pl.lit(OK))
