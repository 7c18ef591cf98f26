"""Scorer assets in Dagster on the tiny world, tracked in a throwaway MLflow store."""

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from assets._planning import DEPLOY_CANDIDATES
from assets.cards import rule_cards
from assets.checks import decision_checks
from assets.evaluation import (
    PREDICTION_GAP_BOUND,
    method_comparison,
    oracle_plan,
    predicted_profit_near_realized,
    rule_plans_vs_truth,
    scorers_vs_truth,
)
from assets.features import (
    customer_features,
    customer_monthly_sales,
    sku_features,
    store_affiliation,
)
from assets.plans import assortment_plans, no_hard_constraint_violation
from assets.raw import raw_tables, shipments
from assets.scorers import demand_model, demand_predictions, uplift_model
from assets.search import evolved_rule_search, rule_search
from assets.simulator import truth_tables
from deeprule.evaluate.baselines import BASELINES
from deeprule.llm import LLMClient
from deeprule.llm.testing import ScriptedBackend
from deeprule.search.cards import card_id
from resources.llm import LLMResource
from resources.mlflow import MlflowResource
from tests.helpers.document_priors import every_month, two_customer_priors
from tests.helpers.encoders import HashEncoder
from tests.helpers.plots import embedded_png
from tests.helpers.rules import SUMMARY, markup_rule
from tests.helpers.warehouse import TINY_MONTHS, month_instance, tiny_resources

ROOT = Path(__file__).resolve().parents[2]
FEATURES = [store_affiliation, customer_monthly_sales, customer_features, sku_features]
SCORERS = [demand_model, uplift_model, demand_predictions, scorers_vs_truth]
PREDICTION_COLUMNS = ["customer_id", "sku_id", "month", "split", "list_price", "unit_price",
                      "discount", "units", "predicted_units"]
FAST = {"max_epochs": 2, "patience": 2}
RUN_CONFIG = {"ops": {"demand_model": {"config": {**FAST, "beta": 0.3}},
                      "uplift_model": {"config": FAST}}}


def _table(database: Path, name: str) -> pl.DataFrame:
    with duckdb.connect(str(database), read_only=True) as conn:
        return conn.execute(f"SELECT * FROM {name}").pl()


@pytest.fixture(scope="module")
def scored(raw_tiny_db: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = tmp_path_factory.mktemp("scorers")
    database = folder / "tiny.duckdb"
    database.write_bytes(raw_tiny_db.read_bytes())
    resources = tiny_resources(database)
    resources["sku_embedder"] = HashEncoder()
    resources["mlflow"] = MlflowResource(tracking_uri=f"sqlite:///{folder / 'mlflow.db'}")
    everything = [*raw_tables, *truth_tables, shipments, *FEATURES, *SCORERS]
    for month in TINY_MONTHS:
        assert dg.materialize(everything, resources=resources, instance=month_instance(),
                              partition_key=month, selection=[customer_monthly_sales]).success
    assert dg.materialize(everything, resources=resources, instance=month_instance(),
                          selection=[store_affiliation, customer_features, sku_features]).success
    _store_priors(database)
    result = dg.materialize(everything, resources=resources, instance=month_instance(),
                            selection=SCORERS, run_config=RUN_CONFIG)
    assert result.success
    metadata = {e.asset_key.to_user_string(): e.materialization.metadata
                for e in result.get_asset_materialization_events()}
    return {"database": database, "folder": folder, "metadata": metadata}


def _store_priors(database: Path) -> None:
    """Hand-built document facts as if `customer_priors_by_month` had been materialized (no
    LLM run): the same facts known as every month began."""
    with duckdb.connect(str(database)) as conn:
        ids = conn.execute("SELECT customer_id FROM customers ORDER BY 1").pl()["customer_id"]
        months = conn.execute("SELECT DISTINCT month FROM shipments").pl()["month"]
        priors = every_month(two_customer_priors(ids.to_list()),  # noqa: F841 (read by SQL)
                             months.to_list()).to_arrow()
        conn.execute("CREATE TABLE customer_priors_by_month AS SELECT * FROM priors")


def test_demand_predictions_contract(scored: dict) -> None:
    df = _table(scored["database"], "demand_predictions")
    raw = _table(scored["database"], "shipments")
    assert df.columns == PREDICTION_COLUMNS
    assert df.height == raw.height
    assert set(df["split"].unique()) == {"train", "valid", "test"}
    assert df["month"].dtype == pl.Date
    assert df["units"].dtype == pl.Float64 and df["predicted_units"].dtype == pl.Float64
    assert df["predicted_units"].min() >= 0 and df.null_count().sum_horizontal().item() == 0
    by_month = df.group_by("month").agg(pl.col("split").unique()).sort("month")
    assert [s.to_list() for s in by_month["split"]] == [["train"], ["valid"], ["test"]]
    joined = df.join(raw, on=["customer_id", "sku_id", "month"])
    assert joined.height == df.height
    assert (joined["discount"] - joined["discount_right"]).abs().max() < 1e-9


def test_models_are_registered_and_metadata_carries_run_and_version(scored: dict) -> None:
    demand = scored["metadata"]["demand_model"]
    uplift = scored["metadata"]["uplift_model"]
    assert demand["registered_model"].value == "deeprule-demand"
    assert demand["registered_version"].value == "1"
    assert len(demand["run_id"].value) == 32
    assert uplift["registered_model"].value == "deeprule-uplift"
    assert "mlflow_run" in demand and "price_response" in demand and "epochs" in demand
    card = _table(scored["database"], "uplift_model")
    assert card["variant"][0] == "within_pair+propensity+adversarial"
    assert card.filter(pl.col("version").is_not_null()).height == 1
    assert {"naive", "within_pair"} <= set(card["variant"])
    assert (scored["folder"] / "mlflow.db").exists()
    assert any((scored["folder"] / "mlartifacts").iterdir())
    predictions = scored["metadata"]["demand_predictions"]
    assert predictions["registered_version"].value == "1"


def test_scorers_vs_truth_compares_every_model_against_truth(scored: dict) -> None:
    table = _table(scored["database"], "scorers_vs_truth")
    assert table["model"][0] == "demand"
    assert "uplift:naive" in table["model"].to_list()
    assert table.height == 1 + _table(scored["database"], "uplift_model").height
    assert table["wape"].is_between(0, 2).all()
    assert table["elasticity_rank_corr"].is_between(-1, 1).all()
    meta = scored["metadata"]["scorers_vs_truth"]
    assert {"demand_wape", "elasticity_target_met", "uplift_beats_naive"} <= set(meta)
    # held-out accuracy with and without the document features, the same model trained twice
    assert "doc_has_documents" in meta["document_features"].value
    with_documents = meta["demand_wape_with_documents"].value
    assert with_documents == pytest.approx(meta["demand_wape"].value, abs=1e-4)
    assert 0 <= meta["demand_wape_without_documents"].value < 2
    assert 0 <= meta["demand_candidate_wape_with_documents"].value < 5
    assert "demand without document features" in meta["document_ablation"].value
    assert meta["document_ablation_seconds"].value > 0
    embedded_png(meta["elasticity_plot"])
    embedded_png(scored["metadata"]["demand_model"]["price_response_plot"])


def test_only_scorers_vs_truth_reads_truth() -> None:
    truth = {k for a in truth_tables for k in a.keys}
    for asset in SCORERS:
        reads_truth = bool(truth & set(asset.asset_deps[asset.key]))
        assert reads_truth == (asset.group_names_by_key[asset.key] == "evaluation")


def test_rule_search_plans_and_their_evaluation_against_truth(
        scored: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    rules = [markup_rule(1.1), markup_rule(1.05, base="market_price"),
             markup_rule(1.2, base="list_price")]

    def answer(prompt: object, schema: type) -> str:
        """Three distinct rules, then the first again (a `repeated` iteration), the summary."""
        return SUMMARY if schema.__name__ == "PhaseSummary" else (rules.pop(0) if rules
                                                                  else markup_rule(1.3))

    backend = ScriptedBackend(responder=answer)
    monkeypatch.setattr(LLMResource, "client", lambda self, _=None: LLMClient(backend, None))
    monkeypatch.setenv("DEEPRULE_DATA_HOME", str(scored["folder"] / "data"))  # checkpoints
    resources = tiny_resources(scored["database"])
    resources["mlflow"] = MlflowResource(tracking_uri=f"sqlite:///{scored['folder'] / 'mlflow.db'}")
    downstream = [rule_search, evolved_rule_search, assortment_plans, oracle_plan,
                  rule_plans_vs_truth, method_comparison, rule_cards]
    result = dg.materialize([*raw_tables, *truth_tables, shipments, *FEATURES, *SCORERS,
                             *downstream, no_hard_constraint_violation,
                             predicted_profit_near_realized], resources=resources,
                            instance=month_instance(), selection=downstream)
    iterations = _table(scored["database"], "rule_search")
    assert result.success and backend.calls == iterations.height  # proposals, then the summary
    assert iterations["status"].to_list()[0] == "expert" and iterations["is_best"].sum() == 1
    fitted = iterations.filter(pl.col("status").is_in(["expert", "improved", "kept"]))
    assert fitted.height >= 4 and fitted["fitness"].is_not_null().all()
    meta = {e.asset_key.to_user_string(): e.materialization.metadata
            for e in result.get_asset_materialization_events()}
    assert "def price(row)" in meta["rule_search"]["best_rule"].value
    assert "**Key features.** cost" in meta["rule_search"]["phase_summary"].value
    segments = meta["rule_search"]["segment_losses"].value
    assert "segment" in segments and " / large" in segments and " / small" in segments
    assert "price as a markup on cost" in meta["rule_search"]["reflections"].value
    assert iterations["template"].to_list()[1:] != [] and all(
        t.endswith("_v1") for t in iterations["template"].to_list()[1:])
    embedded_png(meta["rule_search"]["fitness_plot"])
    _check_plans(scored["database"], meta, result)
    _check_cards(scored["database"], iterations)
    recorded = _table(scored["database"], "search_iterations")
    ours = recorded.filter(pl.col("searcher") == "llm_reflection")
    assert sorted(ours["number"]) == iterations["number"].to_list()  # each once, as they ran
    generations = _table(scored["database"], "evolved_rule_search").height
    assert recorded.filter(pl.col("searcher") == "evolution").height == generations
    assert "mlflow_run" in meta["rule_search"] and "mlflow_run" in meta["evolved_rule_search"]
    plans = _table(scored["database"], "rule_plans_vs_truth")
    assert plans["plan"].to_list() == [
        "logged policy", "expert rule + appendix_e", "expert rule + milp",
        "best rule + appendix_e", "best rule + milp", "evolved rule + appendix_e",
        "evolved rule + milp", "constrained oracle"]
    evolved = _table(scored["database"], "evolved_rule_search")
    assert evolved["status"][0] == "expert" and evolved["is_best"].sum() == 1
    assert evolved["fitness"].max() >= evolved["fitness"][0]
    assert plans.filter(pl.col("plan") == "constrained oracle")["oracle_gap"].item() == 0.0
    assert (plans["profit"] > 0).all()
    optimized = plans.filter(pl.col("plan").str.contains("rule"))
    assert (optimized["violations"] == 0).all()
    # the oracle is the upper bound up to its price grid (a rule may price between points)
    assert (optimized["oracle_gap"] >= -0.01).all()
    assert "search_best_gap" in meta["rule_plans_vs_truth"]
    _check_comparison(_table(scored["database"], "method_comparison"), plans,
                      meta["method_comparison"])
    _check_deployed(scored["database"], meta, {"rule_search": iterations,
                                               "evolved_rule_search": evolved}, plans)
    _check_prediction_gap(plans, result)
    verdicts = _run_checks(resources, [*raw_tables, *truth_tables, shipments, *FEATURES,
                                       *SCORERS, rule_search, evolved_rule_search])
    assert verdicts["rule_search:best_rule_reproduces"].passed, verdicts
    assert verdicts["evolved_rule_search:best_rule_reproduces"].passed, verdicts


def _check_cards(database: Path, iterations: pl.DataFrame) -> None:
    """One card per search, of its best rule."""
    cards = _table(database, "rule_cards")
    assert cards["searcher"].to_list() == ["llm_reflection", "evolution"]
    assert (cards["predicted_units"] > 0).all() and (cards["complexity"] > 0).all()
    best = iterations.filter(pl.col("is_best")).row(0, named=True)
    card = cards.row(0, named=True)
    assert card["rule"] == best["rule"] and card["llm_model"] == "fake-model"
    assert card["fitness"] == pytest.approx(best["fitness"])


def _check_deployed(database: Path, meta: dict, searches: dict[str, pl.DataFrame],
                    plans: pl.DataFrame) -> None:
    """`assortment_plans` plans the rule `method_comparison` headlines, the one DeepRule
    deploys: of the expert rule and each search's best, the one whose MILP plan the model
    predicts to earn the most (`rule_plans_vs_truth` predicts them too)."""
    candidates = {f"{rule.label} rule + milp": (rule.source, _named(searches[rule.source],
                                                                   rule.which))
                  for rule in DEPLOY_CANDIDATES}
    headline = meta["method_comparison"]["deeprule_plan"].value
    predicted = dict(zip(plans["plan"], plans["predicted_profit"], strict=True))
    assert predicted[headline] == max(predicted[plan] for plan in candidates)
    source, chosen = candidates[headline]
    rule_id = f"{source} iteration {chosen['number']}"
    assert meta["assortment_plans"]["rule_id"].value == rule_id
    lines = _table(database, "assortment_plans")
    assert set(lines["rule_id"]) == {rule_id}
    assert set(lines["rule_version"]) == {card_id(chosen["rule"])}
    considered = meta["assortment_plans"]["rules_considered"].value
    assert all(f"{s} iteration {row['number']}" in considered
               for s, row in candidates.values())


def _named(search: pl.DataFrame, which: str) -> dict:
    """The search's row of its expert rule (iteration 0) or of its best rule."""
    return (search.filter(pl.col("is_best")) if which == "best" else search.head(1)
            ).row(0, named=True)


def _check_comparison(table: pl.DataFrame, plans: pl.DataFrame, meta: dict) -> None:
    """Table 1: every baseline (and the online ones with every pair answering) beside the
    rule plans; nobody beats the oracle beyond its price grid; violations are counted."""
    names = table["plan"].to_list()
    assert names[0] == "logged policy" and names[-1] == "constrained oracle"
    assert set(plans["plan"]) <= set(names)
    assert set(BASELINES) <= set(names) and sum("(all pairs answer)" in n for n in names) == 2
    methods = table.filter(pl.col("plan") != "logged policy")
    assert methods["violations"].is_not_null().all()  # counted, never hidden
    assert (methods["oracle_gap"] >= -0.01).all()
    assert meta["deeprule_share_of_oracle"].value <= 1.01
    assert meta["deeprule_vs_logged_policy"].value > 0
    rules = plans.filter(pl.col("plan").str.ends_with("rule + milp"))
    deployed = rules.sort("predicted_profit", descending=True, maintain_order=True)["plan"][0]
    assert meta["deeprule_plan"].value == deployed  # the plan the model values most
    embedded_png(meta["sales_vs_profit"])
    assert "python -m pipelines.compare --preset tiny" in meta["full_setting"].value


def _check_plans(database: Path, meta: dict, result: dg.ExecuteInProcessResult) -> None:
    lines = _table(database, "assortment_plans")
    customers = _table(database, "plan_customers")
    assert lines.height > 0 and (lines["units"] > 0).all() and (lines["reason"] != "").all()
    assert lines["rule_id"].str.contains("rule_search iteration ").all()  # which: _check_deployed
    n_customers = _table(database, "customers").height
    assert customers.height == n_customers  # every customer listed, planned or not
    planned = customers.filter(pl.col("status") == "optimal")
    assert planned.height > 0 and planned["violations"].sum() == 0
    assert (customers.filter(pl.col("status") != "optimal")["why_no_plan"] != "").all()
    assert meta["assortment_plans"]["violations"].value == 0
    checks = result.get_asset_check_evaluations()
    by_name = {c.check_name: c for c in checks}
    assert set(by_name) == {"no_hard_constraint_violation", "predicted_profit_near_realized"}
    assert by_name["no_hard_constraint_violation"].passed
    oracle = _table(database, "oracle_plan")
    assert (oracle["sold_units"] <= oracle["units"] + 1e-9).all()
    assert oracle["customer_violations"].sum() == 0


def _check_prediction_gap(plans: pl.DataFrame, result: dg.ExecuteInProcessResult) -> None:
    """The rule plans carry the profit their lines predicted; the check judges exactly them."""
    predicted = plans.filter(pl.col("predicted_profit").is_not_null())
    assert predicted["plan"].str.contains(" rule + ", literal=True).all()
    assert predicted.height == 6  # expert, best and evolved rule x Appendix E and MILP
    assert (predicted["predicted_profit"] > 0).all()
    check, = [c for c in result.get_asset_check_evaluations()
              if c.check_name == "predicted_profit_near_realized"]
    gaps = (predicted["predicted_profit"] / predicted["profit"] - 1).abs()
    assert check.metadata["plans_judged"].value == 6
    assert abs(check.metadata["worst_gap"].value) == pytest.approx(gaps.max(), abs=1e-4)
    assert check.passed == (gaps.max() <= PREDICTION_GAP_BOUND)
    assert check.severity == dg.AssetCheckSeverity.WARN


def _run_checks(resources: dict, assets: list) -> dict:
    """Every decision check whose asset is in `assets`, run against the warehouse as is."""
    keys = {k for a in assets for k in a.keys}
    checks = [c for c in decision_checks if next(iter(c.check_specs)).asset_key in keys]
    result = dg.materialize([*assets, *checks], resources=resources, instance=month_instance(),
                            selection=dg.AssetSelection.checks(*checks))
    return {f"{e.asset_key.to_user_string()}:{e.check_name}": e
            for e in result.get_asset_check_evaluations()}


def test_feature_and_model_checks_pass_on_the_tiny_world(scored: dict) -> None:
    resources = tiny_resources(scored["database"])
    resources["sku_embedder"] = HashEncoder()
    resources["mlflow"] = MlflowResource(tracking_uri=f"sqlite:///{scored['folder'] / 'mlflow.db'}")
    verdicts = _run_checks(resources, [*raw_tables, shipments, *FEATURES, *SCORERS])
    assert verdicts["customer_features:no_missing_values"].passed, verdicts
    assert verdicts["sku_features:no_missing_values"].passed, verdicts
    assert verdicts["feature_standardization:covers_every_feature"].passed, verdicts


KILLABLE_SEARCH = textwrap.dedent("""
    import sys, time
    import dagster as dg
    from assets.scorers import demand_model
    from assets.search import rule_search
    from deeprule.llm import LLMClient
    from deeprule.llm.testing import ScriptedBackend
    from resources.llm import LLMResource
    from resources.mlflow import MlflowResource
    from tests.helpers.rules import SUMMARY, markup_rule
    from tests.helpers.warehouse import month_instance, tiny_resources

    database, mlflow_uri = sys.argv[1], sys.argv[2]

    def answer(prompt, schema):
        if schema.__name__ == "PhaseSummary":
            return SUMMARY
        print("PROPOSAL", flush=True)
        time.sleep(0.5)
        return markup_rule(1.0 + 0.05 * len(backend.prompts))

    backend = ScriptedBackend(responder=answer)
    LLMResource.client = lambda self, task, _=None: LLMClient(backend, None)
    resources = tiny_resources(database)
    resources["mlflow"] = MlflowResource(tracking_uri=mlflow_uri)
    config = {"ops": {"rule_search": {"config": {"iterations": 4, "patience": 4}}}}
    result = dg.materialize([demand_model, rule_search], resources=resources,
                            instance=month_instance(), selection=[rule_search],
                            run_config=config)
    print("CALLS", backend.calls, "ATTEMPTS", backend.attempts, "OK", result.success,
          flush=True)
""")


def _search_process(scored: dict, data_home: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DEEPRULE_DATA_HOME": str(data_home)}
    return subprocess.Popen(
        [sys.executable, "-c", KILLABLE_SEARCH, str(scored["database"]),
         f"sqlite:///{scored['folder'] / 'mlflow.db'}"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.mark.slow
def test_rule_search_killed_with_sigkill_resumes_from_its_last_finished_iteration(
        scored: dict, tmp_path: Path) -> None:
    victim = _search_process(scored, tmp_path)
    proposals = 0
    for line in victim.stdout:  # kill it while the third proposal is being written
        proposals += line.startswith("PROPOSAL")
        if proposals == 3:
            victim.send_signal(signal.SIGKILL)
            break
    rest = victim.communicate(timeout=60)[0]
    assert victim.returncode == -signal.SIGKILL, rest[-3000:]
    rerun = _search_process(scored, tmp_path)
    output = rerun.communicate(timeout=600)[0]
    assert rerun.returncode == 0 and "OK True" in output, output[-3000:]
    # iterations 1 and 2 were checkpointed: only 3 and 4 are asked (draws 2 and 3), then the
    # phase summary
    assert "CALLS 3 ATTEMPTS [2, 3, 0]" in output, output[-3000:]
    iterations = _table(scored["database"], "rule_search")
    assert iterations["number"].to_list() == [0, 1, 2, 3, 4]
    again = _search_process(scored, tmp_path).communicate(timeout=600)[0]
    assert "CALLS 1 ATTEMPTS [0]" in again, again[-3000:]  # unchanged: the summary only
