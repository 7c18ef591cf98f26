"""Extraction quality metrics against document truth."""

import polars as pl

from deeprule.evaluate.extraction import score_extractions
from tests.helpers.priors import truth


def scores(extracted: pl.DataFrame, facts: pl.DataFrame) -> dict[tuple[str, str], float | None]:
    q = score_extractions(extracted, facts)
    return {(t, f): v for t, f, v in q.select("doc_type", "field", "value").iter_rows()}


def test_perfect_extraction_scores_one(facts) -> None:
    q = score_extractions(facts, facts)
    assert q["value"].to_list() == [1.0] * q.height
    assert q["coverage"].to_list() == [1.0] * q.height


def test_partial_lists_and_wrong_values(facts) -> None:
    wrong = facts.with_columns(
        pl.when((pl.col("doc_id") == "D1") & (pl.col("field") == "core_brands"))
        .then(pl.lit("Aurelle|Calyxa"))  # 1 of 2 right, 1 extra
        .when(pl.col("field") == "approved").then(pl.lit("false"))
        .when(pl.col("value") == "late_payment|penalty|300").then(pl.lit("late_payment|penalty|30"))
        .otherwise("value").alias("value"))
    s = scores(wrong, facts)
    # profile core_brands over D1 and D6: tp = 1 + 1, fp = 1, fn = 1
    assert s[("profile", "core_brands")] == 4 / 6
    assert s[("negotiation", "core_brands")] == 1.0
    assert s[("approval", "approved")] == 0.0
    assert s[("reward_penalty", "event")] == 0.5
    assert s[("reward_penalty", "event_state_action")] == 1.0


def test_missing_documents_lower_coverage_not_scores(facts) -> None:
    q = score_extractions(facts.filter(pl.col("doc_id") != "D6"), truth())
    row = q.filter((pl.col("doc_type") == "profile") & (pl.col("field") == "scale_band"))
    assert row["value"].item() == 1.0 and row["coverage"].item() == 0.5
    assert (row["n_docs"].item(), row["n_truth_docs"].item()) == (1, 2)
