"""Customer priors, R(s,a) and the decision set from extracted facts."""

from datetime import date

import polars as pl

from deeprule.llm import LLMClient
from deeprule.priors import aggregate
from deeprule.priors.extract import plan_extraction, run_extraction
from deeprule.priors.facts import extracted_facts
from tests.helpers.priors import VOCAB, oracle


def extracted(docs: pl.DataFrame, facts: pl.DataFrame) -> pl.DataFrame:
    backend = oracle(docs, facts)
    plan = plan_extraction(docs, None, backend=backend.name, model=backend.model)
    return run_extraction(plan, docs, LLMClient(backend, None), VOCAB, "r").table


def test_priors_resolve_contradictions_and_record_how(docs, facts) -> None:
    table = extracted(docs, facts)
    priors = aggregate.customer_priors(["C1", "C2", "C3"], table, extracted_facts(table))
    c1 = priors.filter(pl.col("customer_id") == "C1").row(0, named=True)
    # the profile says high, the later negotiation note says low: the profile wins
    assert c1["price_sensitivity_level"] == "high" and c1["price_sensitivity"] == 5 / 6
    assert c1["core_brands"] == ["Aurelle", "Calyxa", "Dorian"]  # union of both lists
    assert c1["categories"] == ["Hair Care", "Laundry", "Oral Care"]  # + applied-for category
    assert c1["n_conflicts"] == 2
    assert "price_sensitivity: 2 levels stated, kept high from the profile" in c1["resolution"]
    assert "core_brands: 2 different lists, kept the union" in c1["resolution"]
    assert c1["approval_rate"] == 1.0 and c1["net_reward"] == 900.0
    assert priors.filter(pl.col("customer_id") == "C2")["resolution"].item() == "no conflicts"


def test_customers_without_extractions_keep_a_row(docs, facts) -> None:
    table = extracted(docs, facts)
    priors = aggregate.customer_priors(["C1", "C2", "C3"], table, extracted_facts(table))
    c3 = priors.filter(pl.col("customer_id") == "C3").row(0, named=True)
    assert c3["price_sensitivity"] is None and c3["categories"] == [] and c3["core_brands"] == []
    assert (c3["n_documents"], c3["n_failed"], c3["resolution"]) == (0, 0,
                                                                      "no extracted documents")


def test_priors_contract_columns(docs, facts) -> None:
    table = extracted(docs, facts)
    priors = aggregate.customer_priors(["C1"], table, extracted_facts(table))
    expected = {
        "customer_id": pl.String, "price_sensitivity": pl.Float64,
        "categories": pl.List(pl.String), "core_brands": pl.List(pl.String),
        "scale_band": pl.String, "n_documents": pl.Int64, "n_failed": pl.Int64,
        "resolution": pl.String,
    }
    assert {k: priors.schema[k] for k in expected} == expected


def test_failed_documents_are_counted(docs, facts) -> None:
    table = extracted(docs, facts).with_columns(
        pl.when(pl.col("doc_id") == "D2").then(pl.lit("failed")).otherwise("status")
        .alias("status"))
    priors = aggregate.customer_priors(["C1"], table, extracted_facts(table))
    row = priors.row(0, named=True)
    assert (row["n_documents"], row["n_failed"], row["n_extracted"]) == (5, 1, 4)
    assert row["core_brands"] == ["Aurelle", "Dorian"]


def test_reward_table_signs_penalties(docs, facts) -> None:
    table = extracted(docs, facts)
    r = aggregate.reward_table(extracted_facts(table))
    rewards = dict(zip(zip(r["state"], r["action"], strict=True), r["reward"], strict=True))
    assert rewards == {("late_payment", "penalty"): -300.0, ("sales_target_met", "reward"): 1200.0}


def test_decision_set_pairs_applications_with_answers(docs, facts) -> None:
    table = extracted(docs, facts)
    d = aggregate.decision_set(table, extracted_facts(table))
    row = d.row(0, named=True)
    assert (row["application_doc_id"], row["approval_doc_id"]) == ("D4", "D5")
    assert (row["requested_discount"], row["approved"], row["approved_discount"]) == (
        0.12, True, 0.08)
    assert row["volume_commitment"] == 900


def test_unanswered_application_has_a_null_label(docs, facts) -> None:
    table = extracted(docs, facts).with_columns(
        pl.when(pl.col("doc_id") == "D5").then(pl.lit("failed")).otherwise("status")
        .alias("status"))
    d = aggregate.decision_set(table, extracted_facts(table))
    assert d["approved"].to_list() == [None] and d["category"].to_list() == ["Oral Care"]


def test_account_facts_reach_the_priors_with_their_documents() -> None:
    from deeprule.priors.vocabulary import Vocabulary
    from deeprule.synth import build_world, resolve_spec

    world = build_world(resolve_spec("tiny", {"docs_per_customer": 5}))
    docs, facts = world.documents(), world.document_facts()
    vocab = Vocabulary.from_catalog(world.skus())
    backend = oracle(docs, facts, vocab)
    plan = plan_extraction(docs, None, backend=backend.name, model=backend.model)
    table = run_extraction(plan, docs, LLMClient(backend, None), vocab, "r").table
    ids = world.customers()["customer_id"].to_list()
    priors = aggregate.customer_priors(ids, table, extracted_facts(table))
    traits = world.true_customer_traits()
    joined = priors.join(traits.select("customer_id", pl.col("announced_category").alias("t_cat"),
                                       pl.col("wanted_brands").alias("t_wanted")),
                         on="customer_id")
    assert (joined["announced_category"].fill_null("") == joined["t_cat"].fill_null("")).all()
    assert (joined["wanted_brands"].list.join("|") == joined["t_wanted"]).all()
    locks = priors.select("customer_id", "locks").explode("locks").unnest("locks").drop_nulls()
    truth = world.policy_locks().with_columns(pl.col("min_units").cast(pl.Int64))
    assert locks.select("customer_id", "sku_id", "min_units").sort("customer_id", "sku_id") \
        .equals(truth.sort("customer_id", "sku_id"))
    approvals = docs.filter(doc_type="approval").select("customer_id", "doc_id")
    sources = priors.join(approvals, on="customer_id")
    assert (sources["discount_ceiling_source"] == sources["doc_id"]).all()
    assert priors["discount_ceiling"].is_between(0.0, 0.9).all()
    stated = priors.select("category_sensitivity").explode("category_sensitivity") \
        .unnest("category_sensitivity").drop_nulls()
    assert stated.height >= len(ids)
    assert set(stated["doc_id"]) <= set(docs.filter(doc_type="negotiation")["doc_id"])


def test_priors_by_month_read_only_documents_dated_before_each_month(docs, facts) -> None:
    table = extracted(docs, facts)
    months = [date(2024, 1, 1), date(2024, 2, 1), date(2024, 4, 1)]
    snapshots = aggregate.priors_by_month(["C1", "C2", "C3"], table, extracted_facts(table),
                                          months)
    assert snapshots.height == 9 and sorted(set(snapshots["as_of"])) == months
    c1 = {row["as_of"]: row for row in snapshots.filter(pl.col("customer_id") == "C1")
          .iter_rows(named=True)}
    assert c1[date(2024, 1, 1)]["n_extracted"] == 0  # D1 is dated 5 January
    assert c1[date(2024, 2, 1)]["n_extracted"] == 1  # only the profile D1
    assert c1[date(2024, 2, 1)]["core_brands"] == ["Aurelle", "Dorian"]
    assert c1[date(2024, 4, 1)]["n_extracted"] == 5
    assert c1[date(2024, 4, 1)]["core_brands"] == ["Aurelle", "Calyxa", "Dorian"]


def test_default_snapshots_follow_the_documents_and_snapshot_at_reads_the_latest(
        docs, facts) -> None:
    table = extracted(docs, facts)
    snapshots = aggregate.priors_by_month(["C1", "C2"], table, extracted_facts(table))
    # documents dated in January, February and March 2024
    assert sorted(set(snapshots["as_of"])) == [date(2024, 2, 1), date(2024, 3, 1),
                                                date(2024, 4, 1)]
    june = aggregate.snapshot_at(snapshots, date(2024, 6, 1))
    assert set(june["as_of"]) == {date(2024, 4, 1)} and june.height == 2
    assert aggregate.snapshot_at(snapshots, date(2024, 1, 1)).is_empty()
    empty = aggregate.priors_by_month(["C1"], table.head(0), extracted_facts(table.head(0)))
    assert empty.is_empty() and "as_of" in empty.columns
