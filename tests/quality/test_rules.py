"""The rule base from data + priors, rule outputs, and retrieval by embedding similarity."""

import numpy as np
import polars as pl
import pytest

from deeprule.quality.context import sample_context
from deeprule.quality.retrieval import retrieve, sample_groups
from deeprule.quality.rules import (
    RuleParams,
    build_rule_base,
    history_cap_multiple,
    rule_output,
    segment_elasticity,
)
from tests.helpers.quality import WordHashEncoder, catalogue, panel

PRIORS = pl.DataFrame({"customer_id": ["C1", "C2"],
                       "categories": [["Oral Care"], ["Home Cleaning"]],
                       "core_brands": [["Brightwell"], []],
                       "price_sensitivity_level": ["high", "low"]})


def _world() -> pl.DataFrame:
    """C1 trades S1/S2 (Home Cleaning) outside its Oral Care scope; C2 trades S3 out of scope."""
    discounts = [0.05, 0.15, 0.05, 0.15, 0.05, 0.15, 0.05, 0.05]
    frames = []
    for customer, sku, low, high in [("C1", "S1", 4, 6), ("C1", "S2", 5, 8), ("C2", "S1", 90, 150),
                                     ("C2", "S3", 3, 4)]:
        units = [high if d > 0.1 else low for d in discounts]
        frames.append(panel({(customer, sku): units}, discounts))
    return sample_context(pl.concat(frames), catalogue(), PRIORS)


def test_context_flags_scope_history_and_discount_band() -> None:
    ctx = _world()
    c1 = ctx.filter(pl.col("customer_id") == "C1")
    assert (c1["in_scope"] == False).all()  # noqa: E712
    assert ctx.filter(pl.col("customer_id") == "C2", pl.col("sku_id") == "S1")["in_scope"].all()
    assert set(ctx["discount_band"]) == {"deeper", "shallower"}
    no_priors = sample_context(ctx.select(ctx.columns[:9]), catalogue(), None)
    assert no_priors["in_scope"].is_null().all()


def test_rule_base_has_strict_and_soft_rules_fitted_on_training_rows() -> None:
    rules = build_rule_base(_world(), RuleParams(min_support=3))
    by_id = {r["rule_id"]: r for r in rules.iter_rows(named=True)}
    scope = by_id["scope_cap:Home Cleaning"]
    assert scope["kind"] == "strict" and scope["value"] <= 8
    band = by_id["elasticity_band:Home Cleaning:low"]  # C2 x S1: ~ +50% units at -10% price
    assert band["kind"] == "soft" and band["value"] > 1.0
    assert "history_cap:Home Cleaning" in by_id and "new_pair_level:Oral Care" in by_id


def test_elasticity_is_clipped_to_its_band() -> None:
    train = _world().filter(pl.col("split") == "train")
    e = segment_elasticity(train, (0.2, 1.5))["e"]
    assert e.min() >= 0.2 and e.max() <= 1.5


def test_history_cap_is_the_ratio_to_the_largest_other_month() -> None:
    frame = panel({("C1", "S1"): [10, 10, 30, 10, 10, 10]}).with_columns(
        split=pl.lit("train"))
    multiple, n = history_cap_multiple(frame, 1.0)
    assert multiple == pytest.approx(3.0) and n == 6


def test_rule_outputs_cap_strictly_and_scale_softly() -> None:
    ctx = pl.DataFrame({"hist_max_units": [100.0, 100.0, 100.0], "hist_mean_units": [50.0] * 3,
                        "discount": [0.0, 0.0, 0.2], "usual_discount": [0.0, 0.0, 0.0]})
    a_init = np.array([500.0, 500.0, 10.0])
    g = rule_output(ctx, np.array(["scope_cap", "history_cap", "elasticity_band"]),
                    np.array([7.0, 1.5, 2.0]), a_init)
    assert g[0] == 7.0 and g[1] == 150.0
    assert g[2] == pytest.approx(50.0 * 0.8 ** -2.0)  # deeper discount: more units


def test_retrieval_picks_the_most_similar_rule_that_covers_the_sample() -> None:
    ctx = _world()
    rules = build_rule_base(ctx, RuleParams(min_support=3))
    picks = retrieve(sample_groups(ctx), rules, WordHashEncoder().encode)
    out_of_scope = picks.filter(pl.col("in_scope") == False)  # noqa: E712
    assert out_of_scope["rule_id"].str.starts_with("scope_cap").all()
    assert picks.filter(pl.col("primary_category") == "Oral Care")["rule_id"].str.contains(
        "Oral Care").all()
    assert picks["similarity"].is_between(-1.0, 1.0).all()
