"""Plans on the tiny world: candidates over the whole catalogue, both optimizers, lines."""

import numpy as np
import polars as pl
import pytest

from deeprule.models.calibration import CalibrationConfig, calibrate_on_validation
from deeprule.models.demand import DemandFit
from deeprule.models.frames import SourceTables
from deeprule.optimize.accounts import account_history
from deeprule.optimize.candidates import PlanCandidates, plan_candidates
from deeprule.optimize.plans import Codes, PlanConfig, Plans, RuleRef, lock_columns, make_plans
from deeprule.rules import decide, parse_program
from deeprule.search.objective import RULE_FEATURES
from deeprule.search.reflect import EXPERT_RULE
from tests.helpers.document_priors import two_customer_priors

OPEN_RULE = """
def stock(row):
    return row.cost > 0.0

def price(row):
    return row.usual_price
"""
"""Every pair eligible at its usual price: the optimizers choose from the whole catalogue."""


@pytest.fixture(scope="module")
def plan(tiny_tables: SourceTables, demand_fit: DemandFit) -> PlanCandidates:
    month = max(tiny_tables.shipments["month"].unique())
    return plan_candidates(tiny_tables, demand_fit.scorer, month)


def _plans(plan: PlanCandidates, tables: SourceTables, rule: str, method: str,
           locks: pl.DataFrame | None = None) -> Plans:
    codes = Codes.of(plan.rows)
    history = account_history(tables.shipments, tables.skus, None, codes.customers,
                              codes.categories, plan.rows["month"][0])
    decisions = decide(parse_program(rule, RULE_FEATURES), plan.cand.columns)
    return make_plans(plan, decisions, codes, history, lock_columns(plan.rows, locks),
                      RuleRef("test", "1"), PlanConfig(), method)


def test_candidates_cover_every_customer_and_sku(plan: PlanCandidates,
                                                 tiny_tables: SourceTables) -> None:
    n_cust = tiny_tables.shipments["customer_id"].n_unique()
    launched = tiny_tables.skus.filter(pl.col("launch_month") <= plan.rows["month"][0]).height
    assert plan.rows.height == n_cust * launched
    assert plan.rows.select(pl.struct("customer_id", "sku_id").is_unique().all()).item()
    assert np.all(np.isfinite(plan.pred_units)) and np.all(plan.pred_units > 0)
    assert np.all(plan.market_price > 0)
    traded = plan.cand.columns["hist_units"] > 0
    assert 0 < traded.mean() < 1  # history for some pairs, new pairs for the rest


def test_candidates_carry_the_priors_and_predictions_as_rule_features(
        tiny_tables: SourceTables, demand_fit: DemandFit) -> None:
    """Customer C0001 has documents (tests/helpers/document_priors.py), the others none: their
    document features are the documented defaults (0), never NaN."""
    customers = tiny_tables.shipments["customer_id"].unique().sort()
    tables = SourceTables(tiny_tables.shipments, tiny_tables.skus,
                          customer_priors=two_customer_priors(customers.to_list()))
    month = max(tiny_tables.shipments["month"].unique())
    plan = plan_candidates(tables, demand_fit.scorer, month)
    columns = plan.cand.columns
    assert set(columns) == set(RULE_FEATURES)
    assert all(np.isfinite(v).all() for v in columns.values())
    mine = (plan.rows["customer_id"] == customers[0]).to_numpy()
    category = plan.rows["primary_category"].to_numpy()
    documents = ["sens_low", "sens_medium", "sens_high", "in_scope", "announced_now",
                 "announced_later", "brand_wanted", "discount_ceiling", "locked", "has_documents"]
    assert all(not columns[name][~mine].any() for name in documents)
    assert np.array_equal(columns["sens_high"][mine] == 1, category[mine] == "Laundry")
    assert np.array_equal(columns["sens_low"][mine] == 1, category[mine] == "Oral Care")
    assert np.array_equal(columns["announced_now"][mine] == 1, category[mine] == "Hair Care")
    assert (columns["discount_ceiling"][mine] == 0.12).all()
    assert columns["locked"][mine].sum() == 1 and (columns["has_documents"][mine] == 1).all()
    # the demand model at the usual and at the market price: market price from past sales
    assert np.allclose(columns["pred_units"], plan.cand.response.units(columns["usual_price"]))
    assert (columns["pred_units_market"] > 0).all() and (columns["elasticity_market"] >= 0).all()
    sold = tiny_tables.shipments.filter(pl.col("month") < month, pl.col("units") > 0)
    one = sold["sku_id"][0]
    expected = float(sold.filter(pl.col("sku_id") == one).select(
        pl.col("revenue").sum() / pl.col("units").sum()).item())
    at = (plan.rows["sku_id"] == one).to_numpy()
    assert np.allclose(columns["market_price"][at], expected)


@pytest.mark.parametrize("rule", [EXPERT_RULE, OPEN_RULE])
def test_both_optimizers_plan_without_violations(plan: PlanCandidates,
                                                 tiny_tables: SourceTables, rule: str) -> None:
    heuristic = _plans(plan, tiny_tables, rule, "appendix_e")
    exact = _plans(plan, tiny_tables, rule, "milp")
    for plans in (heuristic, exact):
        planned = plans.customers.filter(pl.col("status") == "optimal")
        assert planned.height > 0 and planned["violations"].sum() == 0
        assert (plans.customers.filter(pl.col("status") != "optimal")["why_no_plan"] != "").all()
        assert (plans.lines["reason"] != "").all() and (plans.lines["units"] > 0).all()
    both = heuristic.customers.join(exact.customers, on="customer_id", suffix="_milp").filter(
        (pl.col("status") == "optimal") & (pl.col("status_milp") == "optimal"))
    assert both.height > 0
    assert (both["pred_profit_milp"] >= both["pred_profit"] - 1e-6 * both["target_value"]).all()


def test_a_lock_from_the_priors_is_planned_with_its_document(plan: PlanCandidates,
                                                            tiny_tables: SourceTables) -> None:
    first = plan.rows.row(0, named=True)
    locks = pl.DataFrame({"customer_id": [first["customer_id"]], "sku_id": [first["sku_id"]],
                          "min_units": [1], "doc_id": ["D-0007"]})
    for method in ("appendix_e", "milp"):
        lines = _plans(plan, tiny_tables, OPEN_RULE, method, locks).lines.filter(
            (pl.col("customer_id") == first["customer_id"]) & (pl.col("sku_id") == first["sku_id"]))
        assert lines.height == 1 and lines["units"][0] >= 1 - 1e-6
        assert "D-0007" in lines["reason"][0]


def test_calibrated_candidates_reanchor_new_pairs_and_leave_prices_monotone(
        tiny_tables: SourceTables, tiny_data, demand_fit: DemandFit) -> None:
    """The tiny world's plan month through the validation calibration: new pairs read the
    customer x SKU prior instead of the network's flat guess, every factor stays within its
    bounds, and units still fall when the price rises."""
    month = min(tiny_data.split.test)
    calibration = calibrate_on_validation(tiny_tables, demand_fit.scorer,
                                          tiny_data.split.validation)
    raw = plan_candidates(tiny_tables, demand_fit.scorer, month)
    honest = plan_candidates(tiny_tables, demand_fit.scorer, month, calibration=calibration)
    new = raw.cand.columns["hist_units"] == 0
    assert new.any() and (~new).any()
    ratio = honest.pred_units / raw.pred_units
    assert not np.allclose(ratio[new], 1.0)
    low, high = CalibrationConfig().factor_bounds
    assert (ratio[~new] >= low - 1e-9).all() and (ratio[~new] <= high + 1e-9).all()
    usual = honest.cand.columns["usual_price"]
    assert (honest.cand.response.units(usual * 1.1) < honest.pred_units).all()
    assert calibration.summary()["segment"].to_list() == ["traded", "new pair"]
