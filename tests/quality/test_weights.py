"""LLM blend weights: bounded, cached, capped, budgeted; bad answers are rejected, not used."""

import json

import polars as pl

from deeprule.quality.weights import ANSWERED, BUDGET, CAPPED, FAILED, ask_weights
from tests.helpers.quality import scripted_client


def _requests(n: int) -> pl.DataFrame:
    return pl.DataFrame({"group_id": list(range(n)), "rule_id": [f"r{i}" for i in range(n)],
                         "description": [f"sample {i}" for i in range(n)],
                         "text": ["Soft rule: deeper discount, more units"] * n,
                         "rows": [10 * (i + 1) for i in range(n)]})


def test_largest_groups_are_asked_first_and_the_cap_is_recorded() -> None:
    client, backend = scripted_client(lambda p, s: json.dumps({"model_weight_percent": 30}))
    run = ask_weights(_requests(4), client, max_calls=2)
    table = run.table.sort("group_id")
    assert backend.calls == 2 and run.asked == 2
    assert table["alpha_source"].to_list() == [CAPPED, CAPPED, ANSWERED, ANSWERED]
    assert table["alpha"].to_list() == [None, None, 0.3, 0.3]


def test_out_of_bounds_or_extra_fields_are_rejected_and_recorded_as_failed() -> None:
    bad = iter([json.dumps({"model_weight_percent": 170}),
                json.dumps({"model_weight_percent": -20}),
                json.dumps({"model_weight_percent": 50, "rule": "units = 0"})] * 2)
    client, backend = scripted_client(lambda p, s: next(bad), max_retries=2)
    run = ask_weights(_requests(2), client, max_calls=0)
    assert backend.calls == 6  # every attempt answered outside the schema
    assert run.table["alpha_source"].to_list() == [FAILED, FAILED]
    assert run.table["alpha"].is_null().all()
    assert client.usage.summary()["llm_failed_calls"] == 2


def test_a_spent_budget_stops_asking_and_marks_the_rest() -> None:
    client, backend = scripted_client(lambda p, s: json.dumps({"model_weight_percent": 80}),
                                      token_budget=240)  # two calls of 120 tokens
    run = ask_weights(_requests(5), client, max_calls=0)
    assert backend.calls == 2
    assert run.table["alpha_source"].to_list() == [ANSWERED] * 2 + [BUDGET] * 3
