"""Per-document-type extraction schemas, and their translation to stated facts.

Each schema is small (short constrained output), closed (`extra="forbid"`),
bounded (list lengths, numeric ranges) and enumerated from the vocabulary, so
even a tiny local model can only answer with values we can check. Percentages
are asked for as whole percents, which small models copy far more reliably
than fractions; `to_facts` converts them back to the contract's fractions.
"""

from functools import cache
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, create_model

from deeprule.priors.vocabulary import Vocabulary

MAX_BRANDS = 5
MAX_ITEMS = 3
"""At most this many category statements, wanted brands, locks or reward/penalty events per
document. A small model fills a list to its bound (Gemma wrote 4 events for every record when
4 were allowed, against 1-3 stated), so the bound is what a record states at most."""
MONTH_PATTERN = r"^20[0-9]{2}-(0[1-9]|1[0-2])$"
SKU_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$"
MAX_PERCENT = 90
MAX_AMOUNT = 1_000_000
MAX_VOLUME = 10_000_000
FORBID = ConfigDict(extra="forbid")


def _unique_sorted(items: list[str]) -> list[str]:
    """Repeated list items are a known failure of greedy small models: keep each once."""
    return sorted(set(items))


def _enum(values: tuple[str, ...]) -> Any:
    return Literal[values]  # a Literal over the runtime vocabulary


def _names(values: tuple[str, ...], max_items: int) -> Any:
    return Annotated[
        list[_enum(values)], Field(min_length=1, max_length=max_items),
        AfterValidator(_unique_sorted),
    ]


def _percent(description: str) -> Any:
    return Annotated[int, Field(ge=0, le=MAX_PERCENT, description=description)]


@cache
def extraction_schemas(vocab: Vocabulary) -> dict[str, type[BaseModel]]:
    """One pydantic model per doc_type, with enums drawn from `vocab`."""
    event = create_model(
        "Event", __config__=FORBID,
        state=(_enum(vocab.event_states), ...),
        action=(_enum(vocab.event_actions), ...),
        amount=(Annotated[int, Field(ge=0, le=MAX_AMOUNT)], ...),
    )
    brands = _names(vocab.brands, min(MAX_BRANDS, len(vocab.brands)))
    category_level = create_model(
        "CategorySensitivity", __config__=FORBID,
        category=(_enum(vocab.categories), ...), level=(_enum(vocab.price_levels), ...),
    )
    lock = create_model(
        "Lock", __config__=FORBID,
        sku_id=(Annotated[str, Field(pattern=SKU_PATTERN)], ...),
        min_units=(Annotated[int, Field(ge=1, le=MAX_VOLUME)], ...),
    )
    return {
        "profile": create_model(
            "ProfileFacts", __config__=FORBID,
            categories=(_names(vocab.categories, len(vocab.categories)), ...),
            core_brands=(brands, ...),
            price_sensitivity=(_enum(vocab.price_levels), ...),
            scale_band=(_enum(vocab.scale_bands), ...),
            announced_category=(_enum(vocab.categories) | None, ...),
            announced_month=(Annotated[str, Field(pattern=MONTH_PATTERN)] | None, ...),
        ),
        "reward_penalty": create_model(
            "RewardPenaltyFacts", __config__=FORBID,
            events=(Annotated[list[event], Field(min_length=1, max_length=MAX_ITEMS)], ...),
        ),
        "price_application": create_model(
            "PriceApplicationFacts", __config__=FORBID,
            category=(_enum(vocab.categories), ...),
            requested_discount_percent=(_percent("discount asked for, in percent"), ...),
            volume_commitment=(Annotated[int, Field(ge=0, le=MAX_VOLUME)], ...),
            sentiment=(_enum(vocab.sentiments), ...),
        ),
        "approval": create_model(
            "ApprovalFacts", __config__=FORBID,
            approved=(bool, ...),
            approved_discount_percent=(_percent("discount granted, in percent"), ...),
            sentiment=(_enum(vocab.sentiments), ...),
            discount_ceiling_percent=(_percent("deepest discount approved") | None, ...),
            locks=(_items(lock), ...),
        ),
        "negotiation": create_model(
            "NegotiationFacts", __config__=FORBID,
            price_sensitivity=(_enum(vocab.price_levels), ...),
            core_brands=(brands, ...),
            category_sensitivity=(_items(category_level), ...),
            wanted_brands=(Annotated[list[_enum(vocab.brands)], Field(max_length=MAX_ITEMS),
                                     AfterValidator(_unique_sorted)], ...),
        ),
    }


def _items(model: type[BaseModel]) -> Any:
    return Annotated[list[model], Field(max_length=MAX_ITEMS)]


def to_facts(doc_type: str, data: dict[str, Any]) -> list[tuple[str, str]]:
    """(field, value) pairs in the `document_facts` contract's formats.

    `data` is a validated extraction (as a dict). A rejected application grants
    no discount, whatever percent the model wrote next to `approved=false`.
    """
    if doc_type == "profile":
        out = [
            ("categories", "|".join(sorted(data["categories"]))),
            ("core_brands", "|".join(sorted(data["core_brands"]))),
            ("price_sensitivity", data["price_sensitivity"]),
            ("scale_band", data["scale_band"]),
        ]
        if data.get("announced_category") and data.get("announced_month"):
            out.append(("announced_category",
                        f"{data['announced_category']}|{data['announced_month']}-01"))
        return out
    if doc_type == "reward_penalty":
        return [("event", f"{e['state']}|{e['action']}|{e['amount']}") for e in data["events"]]
    if doc_type == "price_application":
        return [
            ("category", data["category"]),
            ("requested_discount", f"{data['requested_discount_percent'] / 100:.2f}"),
            ("volume_commitment", str(data["volume_commitment"])),
            ("sentiment", data["sentiment"]),
        ]
    if doc_type == "approval":
        granted = data["approved_discount_percent"] if data["approved"] else 0
        out = [
            ("approved", "true" if data["approved"] else "false"),
            ("approved_discount", f"{granted / 100:.2f}"),
            ("sentiment", data["sentiment"]),
        ]
        if data.get("discount_ceiling_percent") is not None:
            out.append(("discount_ceiling", f"{data['discount_ceiling_percent'] / 100:.2f}"))
        out += [("locked_sku", f"{x['sku_id']}|{x['min_units']}") for x in data.get("locks", [])]
        return out
    if doc_type == "negotiation":
        out = [
            ("price_sensitivity", data["price_sensitivity"]),
            ("core_brands", "|".join(sorted(data["core_brands"]))),
        ]
        seen = set()
        for item in data.get("category_sensitivity", []):
            if item["category"] not in seen:  # a repeated category: the first statement
                seen.add(item["category"])
                out.append(("category_sensitivity", f"{item['category']}|{item['level']}"))
        if data.get("wanted_brands"):
            out.append(("wanted_brands", "|".join(sorted(data["wanted_brands"]))))
        return out
    raise ValueError(f"unknown doc_type {doc_type!r}")
