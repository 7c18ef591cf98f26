"""Synthetic inputs for the quality loop: predictions, priors, a word-hash encoder, a fake LLM."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from datetime import date

import numpy as np
import polars as pl
from pydantic import BaseModel

from deeprule.llm import LLMClient, Prompt
from deeprule.llm.testing import ScriptedBackend

CATEGORIES = ["Home Cleaning", "Oral Care"]


class WordHashEncoder:
    """Bag-of-words vectors (hashed words, L2-normalized): shared words mean similar texts."""

    name = "word-hash-test"

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), 256))
        for i, text in enumerate(texts):
            for word in re.findall(r"[a-z]+", text.lower()):
                out[i, int(hashlib.md5(word.encode()).hexdigest(), 16) % 256] += 1.0
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


def split_of(months: list[date]) -> dict[date, str]:
    """Last month test, the one before valid, the rest train."""
    ordered = sorted(months)
    return {m: "test" if i == len(ordered) - 1 else "valid" if i == len(ordered) - 2
            else "train" for i, m in enumerate(ordered)}


def predictions_from(shipments: pl.DataFrame, noise: float = 0.3, seed: int = 0) -> pl.DataFrame:
    """The demand_predictions contract from logged shipments: actual units times noise."""
    split = split_of(shipments["month"].unique().to_list())
    rng = np.random.default_rng(seed)
    factor = np.exp(rng.normal(0.0, noise, shipments.height))
    return shipments.select(
        "customer_id", "sku_id", "month",
        split=pl.col("month").replace_strict(split, return_dtype=pl.String),
        list_price="list_price", unit_price="unit_price", discount="discount",
        units=pl.col("units").cast(pl.Float64),
        predicted_units=pl.col("units").cast(pl.Float64) * pl.Series(factor),
    ).sort("customer_id", "sku_id", "month")


def priors_from_documents(facts: pl.DataFrame) -> pl.DataFrame:
    """customer_priors-like rows (categories, core brands, sensitivity) from profile facts."""
    profile = facts.filter(pl.col("doc_type") == "profile").pivot(
        on="field", index="customer_id", values="value", aggregate_function="first")
    return profile.select(
        "customer_id", categories=pl.col("categories").str.split("|"),
        core_brands=pl.col("core_brands").str.split("|"),
        price_sensitivity_level=pl.col("price_sensitivity"),
    )


def panel(units: dict[tuple[str, str], list[float]], discounts: list[float] | None = None,
          start: int = 1) -> pl.DataFrame:
    """A hand-made predictions frame: pair -> monthly units (predicted = actual)."""
    rows = []
    for (customer, sku), series in units.items():
        split = split_of([date(2024, start + i, 1) for i in range(len(series))])
        for i, value in enumerate(series):
            month = date(2024, start + i, 1)
            d = discounts[i] if discounts else 0.05
            rows.append({"customer_id": customer, "sku_id": sku, "month": month,
                         "split": split[month], "list_price": 10.0, "unit_price": 10.0 * (1 - d),
                         "discount": d, "units": float(value), "predicted_units": float(value)})
    return pl.DataFrame(rows)


def catalogue() -> pl.DataFrame:
    return pl.DataFrame({"sku_id": ["S1", "S2", "S3"],
                         "primary_category": ["Home Cleaning", "Home Cleaning", "Oral Care"],
                         "brand": ["Brightwell", "Elvaris", "Brightwell"]})


def scripted_client(responder: Callable[[Prompt, type[BaseModel]], str | Exception],
                    **limits: int) -> tuple[LLMClient, ScriptedBackend]:
    backend = ScriptedBackend(responder=responder)
    return LLMClient(backend, None, backoff_s=0.0, sleep=lambda _: None, **limits), backend


def answer(alpha: float = 0.5, judgment: dict | None = None) -> Callable:
    """A responder: `alpha` for weight requests, `judgment` (JSON) for cleaning requests."""
    default = {"judgment": "invalid", "reason": "spike far above history", "action": "exclude",
               "rule": {"field": "units_over_history_mean", "comparator": "above",
                        "threshold": 3.0}}

    def respond(prompt: Prompt, schema: type[BaseModel]) -> str:
        if schema.__name__ == "BlendWeight":
            return json.dumps({"model_weight_percent": round(100 * alpha)})
        return json.dumps(judgment or default)

    return respond
