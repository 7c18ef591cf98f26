"""Incremental extraction: only new/changed documents reach the model; nothing is dropped."""

import polars as pl

from deeprule.llm import LLMClient, TransientLLMError
from deeprule.llm.testing import ScriptedBackend
from deeprule.priors.extract import (
    DOC_PRIORITY,
    FAILED,
    OK,
    PENDING,
    plan_extraction,
    run_extraction,
)
from deeprule.priors.facts import extracted_facts
from tests.helpers.priors import VOCAB, oracle


def extract(docs: pl.DataFrame, backend: ScriptedBackend, previous=None, budget: int = 0,
            breaker_after: int = 0, **plan_kwargs) -> pl.DataFrame:
    client = LLMClient(backend, None, max_retries=1, sleep=lambda s: None, token_budget=budget,
                       breaker_after=breaker_after)
    plan = plan_extraction(docs, previous, backend=backend.name, model=backend.model,
                           **plan_kwargs)
    return run_extraction(plan, docs, client, VOCAB, "run-1").table


def test_every_document_extracted_and_facts_round_trip(docs, facts) -> None:
    table = extract(docs, oracle(docs, facts))
    assert table["status"].to_list() == [OK] * docs.height
    got = extracted_facts(table).select("doc_id", "field", "value").sort(pl.all())
    assert got.equals(facts.select("doc_id", "field", "value").sort(pl.all()))


def test_unchanged_documents_make_no_calls(docs, facts) -> None:
    first = extract(docs, oracle(docs, facts))
    again = oracle(docs, facts)
    second = extract(docs, again, previous=first)
    assert again.calls == 0
    assert second.equals(first)


def test_only_new_or_changed_documents_are_sent(docs, facts) -> None:
    first = extract(docs, oracle(docs, facts))
    changed = docs.with_columns(
        pl.when(pl.col("doc_id") == "D6").then(pl.lit("h:edited")).otherwise("content_hash")
        .alias("content_hash"))
    backend = oracle(docs, facts)
    second = extract(changed, backend, previous=first)
    assert backend.calls == 1 and "Note D6" in backend.prompts[0].user
    assert second.filter(pl.col("doc_id") == "D6")["content_hash"].item() == "h:edited"
    # unchanged rows are the earlier ones, untouched
    assert second.filter(pl.col("doc_id") != "D6").equals(first.filter(pl.col("doc_id") != "D6"))


def test_removed_documents_leave_the_table(docs, facts) -> None:
    first = extract(docs, oracle(docs, facts))
    second = extract(docs.filter(pl.col("doc_id") != "D2"), oracle(docs, facts), previous=first)
    assert "D2" not in second["doc_id"].to_list()


def test_failures_are_rows_with_the_error(docs, facts) -> None:
    good = oracle(docs, facts)

    def flaky(prompt, schema):
        if "Note D3" in prompt.user:
            return TransientLLMError("upstream 503")
        return good._responder(prompt, schema)

    table = extract(docs, ScriptedBackend(responder=flaky))
    failed = table.filter(pl.col("status") == FAILED)
    assert failed["doc_id"].to_list() == ["D3"]
    assert "upstream 503" in failed["error"].item() and failed["attempts"].item() == 2
    assert table.height == docs.height


def test_failures_are_kept_unless_retried(docs, facts) -> None:
    first = extract(docs, ScriptedBackend(responder=lambda p, s: TransientLLMError("down")))
    backend = oracle(docs, facts)
    assert extract(docs, backend, previous=first)["status"].unique().to_list() == [FAILED]
    assert backend.calls == 0
    retried = extract(docs, backend, previous=first, retry_failed=True)
    assert retried["status"].unique().to_list() == [OK]


def test_budget_leaves_the_rest_pending_and_the_next_run_continues(docs, facts) -> None:
    backend = oracle(docs, facts)  # 120 tokens per call
    first = extract(docs, backend, budget=250)
    assert backend.calls == 3
    assert first.filter(pl.col("status") == PENDING).height == 3
    assert first.height == docs.height  # nothing dropped
    backend = oracle(docs, facts)
    second = extract(docs, backend, previous=first)
    assert backend.calls == 3 and second["status"].unique().to_list() == [OK]


def test_document_cap_bounds_a_run(docs, facts) -> None:
    client = LLMClient(oracle(docs, facts), None)
    plan = plan_extraction(docs, None, backend="scripted", model="fake-model")
    run = run_extraction(plan, docs, client, VOCAB, "r", max_documents=2)
    assert (run.processed, run.pending, run.stopped_by) == (2, 4, "document_cap")


def test_documents_are_sent_grouped_by_type_profiles_first(docs, facts) -> None:
    backend = oracle(docs, facts)
    extract(docs, backend)
    kinds = [p.system.split("Document type: ")[1].split(".")[0] for p in backend.prompts]
    order = [k.replace(" ", "_") for k in dict.fromkeys(kinds)]
    assert len(order) == len(set(kinds)), "each type's documents back to back"
    assert order == [t for t in DOC_PRIORITY if t in order]
    assert order[0] == "profile"


def test_refresh_reextracts_other_models_but_keeps_their_rows_until_replaced(docs, facts) -> None:
    first = extract(docs, oracle(docs, facts))
    stronger = oracle(docs, facts)
    stronger.model = "bigger-model"
    partial = extract(docs, stronger, previous=first, budget=130, refresh=True)
    assert stronger.calls == 2
    assert partial["status"].unique().to_list() == [OK]  # old results kept, none pending
    assert sorted(partial["model"].unique().to_list()) == ["bigger-model", "fake-model"]
