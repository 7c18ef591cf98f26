"""World presets: how big the synthetic retail world is and how it is seeded.

A spec fully determines a world: the same spec always generates the same
entities, documents, shipments and hidden truth.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from datetime import date
from typing import Any

MIN_DOC_WORDS, MAX_DOC_WORDS = 60, 250
"""A document's length in words (a padded document never leaves this range)."""


@dataclass(frozen=True)
class WorldSpec:
    """Sizes and seed of a synthetic world; every field can be overridden from config."""

    seed: int = 7
    n_customers: int = 200
    n_skus: int = 40
    n_stores: int = 2_000
    n_months: int = 12
    start_month: str = "2024-01-01"
    n_cities: int = 12
    n_primary_categories: int = 6
    n_secondary_categories: int = 20
    n_brands: int = 12
    n_extra_customer_attrs: int = 12
    skus_per_customer: int = 25
    docs_per_customer: int = 5
    doc_max_words: int = 90
    """Documents are padded with distractors to a word count drawn up to this: the length
    the extraction model reads, the lever of `make run`'s extraction time (90: 94 words and
    320 prompt tokens a document against 118 and 352 at 150, extraction quality the same
    within the sample's noise: `benchmarks/bench_doc_length.py`)."""

    @property
    def start(self) -> date:
        return date.fromisoformat(self.start_month)

    @property
    def months(self) -> list[date]:
        """First day of every month the world covers, in order."""
        return [self.month_at(i) for i in range(self.n_months)]

    def month_at(self, index: int) -> date:
        """First day of the month `index` months after the start (may lie past the end)."""
        y, m = divmod(self.start.month - 1 + int(index), 12)
        return date(self.start.year + y, m + 1, 1)

    @property
    def end_exclusive(self) -> date:
        """First day of the month after the last one (for partition definitions)."""
        last = self.months[-1]
        y, m = divmod(last.month, 12)
        return date(last.year + y, m + 1, 1)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


PRESETS: dict[str, WorldSpec] = {
    # Small enough for unit tests: materializes in a couple of seconds.
    "tiny": WorldSpec(
        n_customers=30, n_skus=12, n_stores=300, n_months=3, n_cities=4,
        n_secondary_categories=8, n_brands=6, skus_per_customer=8, docs_per_customer=4,
    ),
    # The default: the whole pipeline must run in minutes on 2 cores.
    "demo": WorldSpec(),
    # The paper's scale (Sec. 5): 2,362 customers, 215 SKUs, 100k stores, 61 months. A
    # customer trades ~30 SKUs, the most its plan may carry (<= 5 in each of 6 primary
    # categories), so ~4.3M shipments, half the paper's 8.6M: with 60 (the paper's count)
    # a plan must drop half of every assortment and the true demand has no substitution,
    # which left assortment too little room (docs/world.md, "headroom").
    "paper": WorldSpec(
        n_customers=2_362, n_skus=215, n_stores=100_000, n_months=61, n_cities=60,
        n_primary_categories=6, n_secondary_categories=20, n_brands=30,
        n_extra_customer_attrs=52, skus_per_customer=30, docs_per_customer=5,
    ),
}


def resolve_spec(preset: str = "demo", overrides: dict[str, Any] | None = None) -> WorldSpec:
    """Return the named preset with `overrides` applied; unknown names raise a clear error."""
    if preset not in PRESETS:
        raise ValueError(f"unknown world preset {preset!r}; choose one of {sorted(PRESETS)}")
    overrides = overrides or {}
    known = {f.name: f.type for f in fields(WorldSpec)}
    unknown = sorted(set(overrides) - set(known))
    if unknown:
        raise ValueError(f"unknown world override(s) {unknown}; known fields: {sorted(known)}")
    spec = replace(PRESETS[preset], **overrides)
    if spec.n_months < 1 or spec.n_customers < 1 or spec.n_skus < 1 or spec.n_stores < 1:
        raise ValueError(f"world sizes must be positive, got {spec}")
    if not MIN_DOC_WORDS + 5 <= spec.doc_max_words <= MAX_DOC_WORDS:
        raise ValueError(f"doc_max_words must lie in [{MIN_DOC_WORDS + 5}, {MAX_DOC_WORDS}], "
                         f"got {spec.doc_max_words}")
    return spec
