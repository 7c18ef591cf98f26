"""Customer segments and the segment losses L(c) on the toy market, whose optimum is known."""

import polars as pl
import pytest

from deeprule.rules import decide, parse_program
from deeprule.search.objective import RULE_FEATURES, FitnessConfig, outcome, with_segments
from deeprule.search.segments import (
    attainable,
    customer_segments,
    failing,
    overall_loss,
    segment_losses,
    worst_examples,
)
from tests.helpers.rules import SEGMENTS, toy_candidates

PROFIT_ONLY = FitnessConfig(eta=0.0)


def rule(markup: float):
    return parse_program(f"def stock(row):\n    return True\ndef price(row):\n"
                         f"    return row.cost * {markup}\n", RULE_FEATURES)


def losses_of(markup: float, wholesaler: float | None = None) -> pl.DataFrame:
    cand = toy_candidates(wholesaler=wholesaler)
    program = rule(markup)
    return segment_losses(outcome(program, decide(program, cand.columns), cand, PROFIT_ONLY), cand,
                          attainable(cand, 0.0))


def test_at_the_known_optimum_no_segment_loses_and_at_usual_prices_each_loses_22_percent() -> None:
    assert losses_of(1.5)["loss"].abs().max() < 1e-3
    # profit per row ~ (m - 1) m^-3: at m = 1.2 it is 78.1 % of the optimum's (m = 1.5)
    assert losses_of(1.2)["loss"].to_list() == pytest.approx([0.21875] * 2, abs=2e-3)


def test_a_segment_a_markup_does_not_fit_loses_more_and_comes_first() -> None:
    losses = losses_of(1.5, wholesaler=2.0)  # the wholesaler optimum is 2 x cost (list)
    assert losses["segment"].to_list() == [SEGMENTS[1], SEGMENTS[0]]
    assert losses["loss"][0] > 0.05 > 1e-3 > losses["loss"][1]
    assert failing(losses, 0.05, 3)["segment"].to_list() == [SEGMENTS[1]]
    cand = toy_candidates(wholesaler=2.0)
    program = rule(1.5)
    out = outcome(program, decide(program, cand.columns), cand, PROFIT_ONLY)
    best = attainable(cand, 0.0)
    assert 0.0 < overall_loss(out, best) < losses["loss"][0]
    lines = worst_examples(program, out, cand, best, [SEGMENTS[1]], 3)
    assert len(lines) == 3 and all(line.startswith(SEGMENTS[1]) for line in lines)


def test_with_eta_the_loss_measures_against_what_phi_rewards() -> None:
    """Φ's η pulls prices toward the usual one: the attainable value moves with it, so a
    rule at the usual price loses less than by profit alone, and the profit optimum more."""
    cand = toy_candidates()
    eta = FitnessConfig(eta=1.0)

    def loss(markup: float) -> float:
        program = rule(markup)
        return overall_loss(outcome(program, decide(program, cand.columns), cand, eta),
                            attainable(cand, eta.eta))

    assert loss(1.2) < losses_of(1.2)["loss"].max() - 0.01
    assert min(loss(m) for m in (1.3, 1.4)) < loss(1.5) and loss(1.2) > 0.0


def test_customer_segments_are_type_by_scale_tertile() -> None:
    features = pl.DataFrame({
        "customer_id": [f"C{i}" for i in range(6)],
        "business_scale": [0.1, 5.0, 2.0, 0.2, 3.0, 9.0],
        "customer_type__wholesaler": [1.0, 1.0, 0.0, 0.0, 1.0, 0.0],
        "customer_type__pharmacy_chain": [0.0, 0.0, 1.0, 1.0, 0.0, 1.0]})
    segments = dict(customer_segments(features).iter_rows())
    assert segments == {"C0": "wholesaler / small", "C1": "wholesaler / large",
                        "C2": "pharmacy_chain / mid", "C3": "pharmacy_chain / small",
                        "C4": "wholesaler / mid", "C5": "pharmacy_chain / large"}
    raw = features.select("customer_id", "business_scale", customer_type=pl.when(
        pl.col("customer_type__wholesaler") > 0).then(pl.lit("Wholesaler"))
        .otherwise(pl.lit("Pharmacy Chain")))
    assert dict(customer_segments(raw).iter_rows()) == segments  # the raw customers table
    with pytest.raises(ValueError, match="customer_type__"):
        customer_segments(features.drop("customer_type__wholesaler",
                                        "customer_type__pharmacy_chain"))


def test_rows_keep_their_order_and_a_customer_without_segment_is_named() -> None:
    rows = pl.DataFrame({"customer_id": ["B", "A", "B"], "sku_id": ["1", "2", "3"]})
    labeled = with_segments(rows, pl.DataFrame({"customer_id": ["A", "B"],
                                                "segment": ["x", "y"]}))
    assert labeled["segment"].to_list() == ["y", "x", "y"]
    with pytest.raises(ValueError, match=r"\['B'\]"):
        with_segments(rows, pl.DataFrame({"customer_id": ["A"], "segment": ["x"]}))
