"""Posterior cleaning: judgments become exclusions, corrections or review rows, never silently."""

import json
from datetime import date

import numpy as np
import polars as pl
import pytest
from pydantic import ValidationError

from deeprule.quality.cleaning import (
    CleaningParams,
    CleaningRule,
    SampleJudgment,
    clean,
    low_confidence,
    rule_matches,
)
from tests.helpers.quality import scripted_client


def _final(n: int = 40, spikes: tuple[int, ...] = (3, 7)) -> pl.DataFrame:
    """Training rows predicted well, except `spikes` whose label is 20x the forecast."""
    units = np.full(n, 50.0)
    units[list(spikes)] = 1000.0
    return pl.DataFrame({
        "customer_id": [f"C{i:02d}" for i in range(n)], "sku_id": ["S1"] * n,
        "month": [date(2024, 1, 1)] * n, "split": ["train"] * (n - 2) + ["test"] * 2,
        "units": units, "a_final": np.full(n, 50.0), "primary_category": ["Oral Care"] * n,
        "in_scope": [True] * n, "hist_mean_units": np.full(n, 50.0),
        "hist_max_units": np.full(n, 60.0), "discount": np.full(n, 0.05),
        "usual_discount": np.full(n, 0.05),
    })


def _judgment(verdict: str, action: str = "exclude", field: str = "units_over_history_mean",
              threshold: int = 5) -> str:
    return json.dumps({"judgment": verdict, "reason": "units far above the pair's history",
                       "action": action, "rule": {"field": field, "comparator": "above",
                                                  "threshold": threshold}})


def test_least_confident_rows_are_the_largest_scaled_residuals() -> None:
    picked = low_confidence(_final().filter(pl.col("split") == "train"), 2)
    assert sorted(picked["customer_id"].to_list()) == ["C03", "C07"]


def test_invalid_excluded_and_uncertain_reviewed() -> None:
    replies = iter([_judgment("invalid", threshold=1000), _judgment("uncertain")])
    client, _ = scripted_client(lambda p, s: next(replies))
    result = clean(_final(), client, CleaningParams(max_judgments=2))
    assert result.judgments["outcome"].sort().to_list() == ["excluded", "review"]
    assert result.log.height == 1 and result.log["action"].item() == "excluded"
    assert result.log["source"].item() == "llm_judgment"
    assert result.review.height == 1 and result.review["judgment"].item() == "uncertain"


def test_correction_sets_the_label_to_the_forecast_and_keeps_the_old_one() -> None:
    client, _ = scripted_client(lambda p, s: _judgment("invalid", action="correct",
                                                       threshold=1000))
    log = clean(_final(), client, CleaningParams(max_judgments=1)).log
    assert log["action"].item() == "corrected"
    assert log["old_units"].item() == 1000.0 and log["new_units"].item() == 50.0


def test_an_accepted_rule_cleans_the_other_rows_it_matches_and_says_so() -> None:
    client, _ = scripted_client(lambda p, s: _judgment("invalid"))  # ratio above 5
    result = clean(_final(), client, CleaningParams(max_judgments=1, max_rule_share=0.1))
    assert result.judgments["rule_status"].item() == "applied"
    assert result.log["source"].to_list() == ["llm_judgment", "rule: units_over_history_mean "
                                              "above 5"]
    assert sorted(result.log["customer_id"]) == ["C03", "C07"]


def test_too_broad_or_self_contradicting_rules_are_not_applied() -> None:
    replies = iter([_judgment("invalid", field="units", threshold=0),  # every row
                    _judgment("invalid", field="discount_percent", threshold=50)])
    client, _ = scripted_client(lambda p, s: next(replies))
    result = clean(_final(), client, CleaningParams(max_judgments=2))
    statuses = sorted(result.judgments["rule_status"].to_list())
    assert statuses[0] == "rejected: does not match its own sample"
    assert statuses[1].startswith("rejected: too broad")
    assert result.log.height == 2 and (result.log["source"] == "llm_judgment").all()


@pytest.mark.parametrize("rule", [
    {"field": "__import__('os').system('rm -rf /')", "comparator": "above", "threshold": 1},
    {"field": "units", "comparator": "==", "threshold": 1},
    {"field": "units", "comparator": "above", "threshold": 10**12},
    {"field": "units", "comparator": "above", "threshold": 1, "action": "drop table"},
])
def test_a_rule_outside_the_whitelist_is_rejected(rule: dict) -> None:
    with pytest.raises(ValidationError):
        CleaningRule.model_validate(rule)


def test_a_non_whitelisted_rule_from_the_model_sends_the_sample_to_review() -> None:
    reply = json.dumps({"judgment": "invalid", "reason": "x", "action": "exclude",
                        "rule": {"field": "revenue", "comparator": "above", "threshold": 1}})
    client, backend = scripted_client(lambda p, s: reply, max_retries=1)
    result = clean(_final(), client, CleaningParams(max_judgments=1))
    assert backend.calls == 2  # retried once, then given up
    row = result.judgments.row(0, named=True)
    assert (row["status"], row["outcome"]) == ("failed", "review")
    assert result.log.is_empty() and result.review.height == 1


def test_rule_values_follow_the_comparator() -> None:
    rows = _final()
    above = rule_matches(rows, CleaningRule(field="units", comparator="above", threshold=500))
    below = rule_matches(rows, CleaningRule(field="units", comparator="below", threshold=500))
    assert above.sum() == 2 and below.sum() == rows.height - 2
    assert SampleJudgment.model_json_schema()["additionalProperties"] is False
