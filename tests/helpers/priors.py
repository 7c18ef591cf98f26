"""Hand-written documents and an oracle model that answers with what each document states.

Shared by the priors and evaluation tests (`from tests.helpers.priors import ...`).
"""

import json
from datetime import date

import polars as pl

from deeprule.llm.testing import ScriptedBackend
from deeprule.priors.prompts import extraction_prompt
from deeprule.priors.vocabulary import Vocabulary
from deeprule.schema import RAW_DOCUMENTS

VOCAB = Vocabulary(categories=("Hair Care", "Laundry", "Oral Care"),
                   brands=("Aurelle", "Calyxa", "Dorian", "Elvaris"))

DOCS = [  # doc_id, customer_id, doc_type, date, text, stated facts
    ("D1", "C1", "profile", date(2024, 1, 5),
     "Trades laundry and hair care. Core brands: Aurelle and Dorian. Price decides everything. "
     "A large account.",
     [("categories", "Hair Care|Laundry"), ("core_brands", "Aurelle|Dorian"),
      ("price_sensitivity", "high"), ("scale_band", "large")]),
    ("D2", "C1", "negotiation", date(2024, 3, 1),
     "Price barely came up. Their focus stays on Aurelle and Calyxa.",
     [("price_sensitivity", "low"), ("core_brands", "Aurelle|Calyxa")]),
    ("D3", "C1", "reward_penalty", date(2024, 2, 1),
     "A reward of 1200 for meeting targets; a penalty of 300 for late payment.",
     [("event", "sales_target_met|reward|1200"), ("event", "late_payment|penalty|300")]),
    ("D4", "C1", "price_application", date(2024, 2, 10),
     "They ask 12% off oral care and commit to 900 units. Tone: cooperative.",
     [("category", "Oral Care"), ("requested_discount", "0.12"), ("volume_commitment", "900"),
      ("sentiment", "positive")]),
    ("D5", "C1", "approval", date(2024, 2, 20),
     "Granted 8% instead of 12%.",
     [("approved", "true"), ("approved_discount", "0.08"), ("sentiment", "neutral")]),
    ("D6", "C2", "profile", date(2024, 1, 9),
     "Trades oral care. Core brand: Elvaris. Price matters moderately. Small business.",
     [("categories", "Oral Care"), ("core_brands", "Elvaris"), ("price_sensitivity", "medium"),
      ("scale_band", "small")]),
]


def documents(rows: list = DOCS) -> pl.DataFrame:
    """A raw_documents frame (content hash = the text itself, enough for tests)."""
    return pl.DataFrame(
        [{"doc_id": d, "customer_id": c, "doc_type": t, "doc_date": when, "title": f"Note {d}",
          "text": text, "content_hash": f"h:{text}"} for d, c, t, when, text, _ in rows],
        schema=RAW_DOCUMENTS.polars_schema(),
    )


def truth(rows: list = DOCS) -> pl.DataFrame:
    return pl.DataFrame(
        [{"doc_id": d, "customer_id": c, "doc_type": t, "field": f, "value": v}
         for d, c, t, _, _, facts in rows for f, v in facts],
        schema={k: pl.String for k in ("doc_id", "customer_id", "doc_type", "field", "value")},
    )


def answer(doc_type: str, facts: list[tuple[str, str]]) -> dict:
    """The schema answer that states exactly `facts` (inverse of schemas.to_facts)."""
    f = {}
    for field, value in facts:
        f.setdefault(field, []).append(value)
    one = {k: v[0] for k, v in f.items()}
    if doc_type == "reward_penalty":
        events = [v.split("|") for v in f["event"]]
        return {"events": [{"state": s, "action": a, "amount": int(n)} for s, a, n in events]}
    if doc_type == "price_application":
        return {"category": one["category"],
                "requested_discount_percent": round(float(one["requested_discount"]) * 100),
                "volume_commitment": int(one["volume_commitment"]), "sentiment": one["sentiment"]}
    if doc_type == "approval":
        ceiling = one.get("discount_ceiling")
        return {"approved": one["approved"] == "true",
                "approved_discount_percent": round(float(one["approved_discount"]) * 100),
                "sentiment": one["sentiment"],
                "discount_ceiling_percent": None if ceiling is None else round(
                    float(ceiling) * 100),
                "locks": [{"sku_id": v.split("|")[0], "min_units": int(v.split("|")[1])}
                          for v in f.get("locked_sku", [])]}
    if doc_type == "negotiation":
        return {"price_sensitivity": one["price_sensitivity"],
                "core_brands": one["core_brands"].split("|"),
                "category_sensitivity": [dict(zip(("category", "level"), v.split("|"),
                                                  strict=True))
                                         for v in f.get("category_sensitivity", [])],
                "wanted_brands": one["wanted_brands"].split("|") if "wanted_brands" in one
                else []}
    announced = one.get("announced_category")
    return {"categories": one["categories"].split("|"),
            "core_brands": one["core_brands"].split("|"),
            "price_sensitivity": one["price_sensitivity"], "scale_band": one["scale_band"],
            "announced_category": announced.split("|")[0] if announced else None,
            "announced_month": announced.split("|")[1][:7] if announced else None}


def true_replies(docs: pl.DataFrame, facts: pl.DataFrame, vocab: Vocabulary = VOCAB
                 ) -> dict[str, str]:
    """Each document's prompt (user part) -> the JSON answer stating its true facts."""
    by_doc = {d: list(zip(g["field"], g["value"], strict=True))
              for (d,), g in facts.group_by(["doc_id"])}
    return {
        extraction_prompt(r["doc_type"], r["title"], r["text"], vocab).user:
            json.dumps(answer(r["doc_type"], by_doc[r["doc_id"]]))
        for r in docs.iter_rows(named=True)
    }


def oracle(docs: pl.DataFrame, facts: pl.DataFrame, vocab: Vocabulary = VOCAB
           ) -> ScriptedBackend:
    """A backend that answers each document's prompt with that document's true facts."""
    replies = true_replies(docs, facts, vocab)
    return ScriptedBackend(responder=lambda prompt, schema: replies[prompt.user])
