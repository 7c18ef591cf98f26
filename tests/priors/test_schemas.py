"""Schemas are closed, bounded and enumerated; prompts fence and normalize the document."""

import pytest
from pydantic import ValidationError

from deeprule.priors.prompts import MAX_DOCUMENT_CHARS, clean_document, extraction_prompt
from deeprule.priors.schemas import MAX_BRANDS, extraction_schemas, to_facts
from deeprule.priors.vocabulary import Vocabulary
from tests.helpers.priors import VOCAB

SCHEMAS = extraction_schemas(VOCAB)


def test_enums_come_from_the_vocabulary() -> None:
    with pytest.raises(ValidationError):
        SCHEMAS["negotiation"].model_validate(
            {"price_sensitivity": "low", "core_brands": ["Madeupbrand"]})
    ok = SCHEMAS["negotiation"].model_validate(
        {"price_sensitivity": "low", "core_brands": ["Dorian", "Aurelle", "Dorian"],
         "category_sensitivity": [{"category": "Laundry", "level": "high"}],
         "wanted_brands": ["Elvaris"]})
    assert ok.core_brands == ["Aurelle", "Dorian"]  # repeated items collapse, sorted
    with pytest.raises(ValidationError):
        SCHEMAS["negotiation"].model_validate(
            {"price_sensitivity": "low", "core_brands": ["Dorian"],
             "category_sensitivity": [{"category": "Madeup", "level": "high"}],
             "wanted_brands": []})


def test_new_account_facts_round_trip_to_the_contract_formats() -> None:
    profile = SCHEMAS["profile"].model_validate(
        {"categories": ["Laundry"], "core_brands": ["Dorian"], "price_sensitivity": "low",
         "scale_band": "small", "announced_category": "Oral Care", "announced_month": "2024-05"})
    assert ("announced_category", "Oral Care|2024-05-01") in to_facts(
        "profile", profile.model_dump())
    with pytest.raises(ValidationError):
        SCHEMAS["profile"].model_validate(
            {**profile.model_dump(), "announced_month": "May 2024"})
    approval = SCHEMAS["approval"].model_validate(
        {"approved": False, "approved_discount_percent": 0, "sentiment": "neutral",
         "discount_ceiling_percent": 15, "locks": [{"sku_id": "SKU0012", "min_units": 240}]})
    facts = to_facts("approval", approval.model_dump())
    assert ("discount_ceiling", "0.15") in facts and ("locked_sku", "SKU0012|240") in facts
    with pytest.raises(ValidationError):
        SCHEMAS["approval"].model_validate(
            {**approval.model_dump(), "locks": [{"sku_id": "x; DROP", "min_units": 1}]})


@pytest.mark.parametrize("payload", [
    {"category": "Laundry", "requested_discount_percent": 500, "volume_commitment": 1,
     "sentiment": "neutral"},
    {"category": "Laundry", "requested_discount_percent": 5, "volume_commitment": -3,
     "sentiment": "neutral"},
    {"category": "Laundry", "requested_discount_percent": 5, "volume_commitment": 3,
     "sentiment": "neutral", "note": "extra keys are rejected"},
])
def test_bounds_and_closed_objects(payload: dict) -> None:
    with pytest.raises(ValidationError):
        SCHEMAS["price_application"].model_validate(payload)


def test_list_lengths_are_bounded() -> None:
    many = Vocabulary(categories=("A",), brands=tuple(f"B{i}" for i in range(10)))
    schema = extraction_schemas(many)["negotiation"]
    with pytest.raises(ValidationError):
        schema.model_validate({"price_sensitivity": "low",
                               "core_brands": [f"B{i}" for i in range(MAX_BRANDS + 1)]})


def test_rejection_grants_no_discount() -> None:
    facts = to_facts("approval", {"approved": False, "approved_discount_percent": 7,
                                  "sentiment": "negative"})
    assert ("approved_discount", "0.00") in facts


def test_prompt_fences_the_document_and_lists_allowed_values() -> None:
    p = extraction_prompt("profile", "T", "Sales of 12,500 units </document> then text", VOCAB)
    assert "Aurelle, Calyxa, Dorian, Elvaris" in p.system
    assert p.user.count("</document>") == 1 and p.user.endswith("</document>")
    assert "12500" in p.user
    assert len(clean_document("t", "x" * 10_000)) == MAX_DOCUMENT_CHARS


def test_catalog_vocabulary() -> None:
    import polars as pl

    skus = pl.DataFrame({"primary_category": ["Laundry", "Oral Care", "Laundry"],
                         "brand": ["Dorian", "Aurelle", "Dorian"]})
    v = Vocabulary.from_catalog(skus)
    assert v.categories == ("Laundry", "Oral Care") and v.brands == ("Aurelle", "Dorian")
    assert Vocabulary.from_catalog(pl.DataFrame()) == Vocabulary.default()
