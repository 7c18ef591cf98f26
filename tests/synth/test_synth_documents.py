"""Documents: every customer has them, facts record what they state, wording varies."""

import re

import polars as pl
import pytest

from deeprule.schema import DOC_TYPES
from deeprule.synth import World, phrases
from deeprule.synth.spec import MAX_DOC_WORDS, MIN_DOC_WORDS
from deeprule.synth.vocab import (
    BRANDS,
    COMPETITOR_BRANDS,
    DOC_FIELDS,
    DOC_OPTIONAL_FIELDS,
    EVENT_ACTIONS,
    EVENT_STATES,
    PRICE_SENSITIVITY_LEVELS,
    SCALE_BANDS,
    SENTIMENTS,
)


def _facts(world: World, doc_type: str, field: str) -> pl.DataFrame:
    return world.document_facts().filter(doc_type=doc_type, field=field)


def test_every_customer_has_its_documents_in_cycling_kinds(tiny_world: World) -> None:
    docs = tiny_world.documents()
    n = tiny_world.spec.docs_per_customer
    counts = docs.group_by("customer_id").len()
    assert counts.height == tiny_world.spec.n_customers
    assert set(counts["len"]) == {n}
    first = docs.filter(customer_id=docs["customer_id"][0]).sort("doc_id")
    assert first["doc_type"].to_list() == [DOC_TYPES[i % len(DOC_TYPES)] for i in range(n)]


def test_every_document_has_exactly_its_contract_fields(docs_world: World) -> None:
    docs = docs_world.documents()
    facts = docs_world.document_facts()
    assert facts.columns == ["doc_id", "customer_id", "doc_type", "field", "value"]
    assert all(facts[c].dtype == pl.String for c in facts.columns)
    fields = facts.group_by("doc_id", "doc_type").agg(pl.col("field").unique().sort())
    assert fields.height == docs.height
    for doc_type, got in fields.select("doc_type", "field").iter_rows():
        assert set(DOC_FIELDS[doc_type]) <= set(got)
        assert set(got) <= set(DOC_FIELDS[doc_type]) | set(DOC_OPTIONAL_FIELDS[doc_type])
    stated = set(facts["field"])
    assert {f for fields_ in DOC_OPTIONAL_FIELDS.values() for f in fields_} <= stated


def test_fact_values_use_the_published_vocabularies(docs_world: World) -> None:
    categories = set(docs_world.skus()["primary_category"])
    for value in _facts(docs_world, "profile", "categories")["value"]:
        cats = value.split("|")
        assert cats == sorted(cats) and set(cats) <= categories
    for doc_type in ("profile", "negotiation"):
        for value in _facts(docs_world, doc_type, "core_brands")["value"]:
            brands = value.split("|")
            assert brands == sorted(brands) and set(brands) <= set(BRANDS)
        assert set(_facts(docs_world, doc_type, "price_sensitivity")["value"]) <= set(
            PRICE_SENSITIVITY_LEVELS)
    assert set(_facts(docs_world, "profile", "scale_band")["value"]) <= set(SCALE_BANDS)
    for doc_type in ("price_application", "approval"):
        assert set(_facts(docs_world, doc_type, "sentiment")["value"]) <= set(SENTIMENTS)
    for value in _facts(docs_world, "reward_penalty", "event")["value"]:
        state, action, amount = value.split("|")
        assert state in EVENT_STATES and action in EVENT_ACTIONS and int(amount) > 0
    for value in _facts(docs_world, "price_application", "requested_discount")["value"]:
        assert 0 < float(value) < 1 and re.fullmatch(r"0\.\d\d", value)
    for value in _facts(docs_world, "price_application", "volume_commitment")["value"]:
        assert int(value) > 0
    approved = _facts(docs_world, "approval", "approved").join(
        _facts(docs_world, "approval", "approved_discount"), on="doc_id")
    for flag, discount in approved.select("value", "value_right").iter_rows():
        assert flag in ("true", "false")
        assert (float(discount) > 0) == (flag == "true")


def test_stated_numbers_appear_in_the_text(tiny_world: World) -> None:
    text = dict(tiny_world.documents().select("doc_id", "text").iter_rows())
    for doc_id, value in _facts(tiny_world, "price_application", "requested_discount").select(
        "doc_id", "value"
    ).iter_rows():
        assert re.search(rf"\b{round(float(value) * 100)}( ?%| percent| per cent)", text[doc_id])
    for doc_id, value in _facts(tiny_world, "price_application", "volume_commitment").select(
        "doc_id", "value"
    ).iter_rows():
        assert f"{int(value):,}" in text[doc_id]


def test_approval_answers_the_application_of_the_same_round(tiny_world: World) -> None:
    facts = tiny_world.document_facts()
    asked = facts.filter(field="requested_discount").select("customer_id", asked="value")
    granted = facts.filter(field="approved_discount").select("customer_id", granted="value")
    pairs = asked.join(granted, on="customer_id")
    assert pairs.height > 0
    assert all(float(g) <= float(a) for a, g in pairs.select("asked", "granted").iter_rows())


def test_document_length_is_in_range(tiny_world: World) -> None:
    words = tiny_world.documents()["text"].str.split(" ").list.len()
    assert words.min() >= MIN_DOC_WORDS and words.max() <= MAX_DOC_WORDS


def test_some_documents_contradict_the_truth_or_each_other(docs_world: World) -> None:
    facts = docs_world.document_facts()
    traits = docs_world.true_customer_traits()
    stated = (
        facts.filter(field="price_sensitivity")
        .pivot(on="doc_type", index="customer_id", values="value", aggregate_function="first")
        .join(traits.select("customer_id", "price_sensitivity_level"), on="customer_id")
    )
    disagree = (stated["negotiation"] != stated["profile"]) | (
        stated["negotiation"] != stated["price_sensitivity_level"])
    assert disagree.any() and not disagree.all()
    profile_brands = facts.filter(doc_type="profile", field="core_brands").join(
        traits.select("customer_id", "core_brands"), on="customer_id")
    negotiation_brands = facts.filter(doc_type="negotiation", field="core_brands").join(
        traits.select("customer_id", "core_brands"), on="customer_id")
    outdated = pl.concat([profile_brands, negotiation_brands]).filter(
        pl.col("value") != pl.col("core_brands"))
    assert outdated.height > 0


def test_profiles_mostly_tell_the_truth(tiny_world: World) -> None:
    facts = tiny_world.document_facts().filter(doc_type="profile")
    traits = tiny_world.true_customer_traits()
    for field, truth in (("categories", "category_scope"), ("core_brands", "core_brands"),
                         ("price_sensitivity", "price_sensitivity_level"),
                         ("scale_band", "scale_band")):
        joined = facts.filter(field=field).join(traits.select("customer_id", truth),
                                                on="customer_id")
        assert (joined["value"] == joined[truth]).mean() >= 0.7, field


@pytest.mark.parametrize("doc_type", DOC_TYPES)
def test_wording_varies_between_documents(docs_world: World, doc_type: str) -> None:
    names = docs_world.customers().select("customer_id", "name")
    docs = docs_world.documents().filter(doc_type=doc_type).join(names, on="customer_id")
    assert docs["text"].n_unique() == docs.height
    titles = {t.replace(n, "") for t, n in docs.select("title", "name").iter_rows()}
    openers = {re.sub(r"\d+", "", t.replace(n, "").split(".")[0])
               for t, n in docs.select("text", "name").iter_rows()}
    assert len(titles) > 1 and len(openers) > 1


def test_same_fact_is_phrased_several_ways(tiny_world: World) -> None:
    texts = " ".join(tiny_world.documents().filter(doc_type="profile")["text"])
    for level, templates in phrases.PROFILE_SENSITIVITY.items():
        used = [t for t in templates if t.split("}")[-1].strip() in texts]
        assert len(used) >= 2, level


def test_distractors_name_competitors_that_are_never_core_brands(tiny_world: World) -> None:
    texts = tiny_world.documents()["text"]
    assert texts.str.contains("|".join(COMPETITOR_BRANDS)).any()
    stated = tiny_world.document_facts().filter(field="core_brands")["value"]
    assert not any(b in v.split("|") for v in stated for b in COMPETITOR_BRANDS)


def test_documents_are_dated_inside_the_world_and_approvals_follow_applications(
    tiny_world: World,
) -> None:
    docs = tiny_world.documents()
    assert docs["doc_date"].min() >= tiny_world.spec.start
    assert docs["doc_date"].max() < tiny_world.spec.end_exclusive
    dated = docs.pivot(on="doc_type", index="customer_id", values="doc_date",
                       aggregate_function="first")
    assert (dated["approval"] >= dated["price_application"]).all()


def test_phrase_banks_cover_every_event_state() -> None:
    assert {state for state, _ in phrases.EVENTS} == set(EVENT_STATES)
    assert {action for _, action in phrases.EVENTS} == set(EVENT_ACTIONS)
