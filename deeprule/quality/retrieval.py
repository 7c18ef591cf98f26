"""Rule retrieval: γ*_t = argmax_k cos(ψ(x_t), ψ(γ_k)) over the rules that cover the sample.

ψ is a sentence encoder over short descriptions. A description depends only on
a few discrete sample attributes (context.DESCRIPTION_KEYS), so a whole table
needs a few hundred embeddings at most, not one per row.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl

from deeprule.quality.context import DESCRIPTION_KEYS, describe
from deeprule.quality.rules import applicable

Embed = Callable[[list[str]], np.ndarray]
"""Texts -> L2-normalized vectors, one row per text."""


def sample_groups(context: pl.DataFrame) -> pl.DataFrame:
    """Distinct description keys with a group id, the text and how many rows share it."""
    groups = context.group_by(DESCRIPTION_KEYS).agg(rows=pl.len()).sort(DESCRIPTION_KEYS,
                                                                         nulls_last=True)
    return groups.with_columns(group_id=pl.int_range(pl.len(), dtype=pl.Int64),
                               description=describe(groups))


def retrieve(groups: pl.DataFrame, rules: pl.DataFrame, embed: Embed) -> pl.DataFrame:
    """Per group: the most similar applicable rule (rule_id null when none covers it)."""
    n = groups.height
    rule_ids = rules["rule_id"].to_list()
    if n == 0 or not rule_ids:
        return groups.with_columns(rule_id=pl.lit(None, pl.String),
                                   similarity=pl.lit(None, pl.Float64))
    similarity = embed(groups["description"].to_list()) @ embed(rules["text"].to_list()).T
    allowed = applicable(groups, rules)
    masked = np.where(allowed, similarity, -np.inf)
    best = masked.argmax(axis=1)
    found = allowed.any(axis=1)
    return groups.with_columns(
        rule_id=pl.Series([rule_ids[b] if f else None for b, f in zip(best, found, strict=True)],
                          dtype=pl.String),
        similarity=pl.Series(np.where(found, masked[np.arange(n), best], np.nan)).fill_nan(None),
    )
