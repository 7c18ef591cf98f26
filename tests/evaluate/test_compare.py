"""The full-setting comparison on the tiny world with 2 seeds: one row per seed x method x
budget x backend, the oracle never beaten, violations counted, results stored idempotently."""

from dataclasses import replace

import duckdb
import polars as pl
import pytest
from dagster_duckdb import DuckDBResource

from assets.evaluation import _full_setting, _headline
from deeprule.evaluate.baselines import BASELINES
from deeprule.evaluate.compare import (
    CONVERGENCE_SCHEMA,
    EXPERT,
    ORACLE,
    ROW_SCHEMA,
    CompareSettings,
    SeedResult,
    component_losses,
    convergence_frame,
    convergence_series,
    deployment_check,
    headline,
    rows_frame,
    run_search,
    run_seed,
    searcher_table,
    seed_world,
    summary,
)
from deeprule.llm import LLMClient
from deeprule.llm.testing import ScriptedBackend
from deeprule.llm.types import ModelPackageMissing
from deeprule.search.searchers import SEARCHERS
from pipelines import compare as command
from pipelines.compare import ROWS, RUNS, parse, step_weights, store
from tests.helpers.plots import embedded_png
from tests.search.test_searchers import answer, text_answer

TINY = CompareSettings(preset="tiny", seeds=2, llm_seeds=1, budgets=(2, 4),
                       validation_months=1, test_months=1)
"""Two seeds, LLM searchers on the first only; tiny has 3 months (train, valid, test)."""


def scripted() -> LLMClient:
    """Every registered LLM searcher's questions answered (rules, tree-search tokens)."""
    return LLMClient(ScriptedBackend(responder=answer), None)


@pytest.fixture(scope="module")
def results() -> list[SeedResult]:
    return [run_seed(TINY, seed, "test", {"fake": scripted}) for seed in range(TINY.seeds)]


@pytest.fixture(scope="module")
def rows(results: list[SeedResult]) -> pl.DataFrame:
    return rows_frame([r for result in results for r in result.rows])


def test_one_row_per_seed_method_budget_and_backend(rows: pl.DataFrame) -> None:
    assert rows.schema == pl.Schema(ROW_SCHEMA)
    assert rows.select("seed", "method", "budget", "backend").is_duplicated().sum() == 0
    for seed in (0, 1):
        mine = rows.filter(pl.col("seed") == seed)
        methods = set(mine["method"])
        assert {*BASELINES, "logged policy", ORACLE, f"{EXPERT} + milp",
                f"{EXPERT} + appendix_e"} <= methods
        searched = mine.filter(pl.col("kind") == "searcher")
        expected = {(name, budget) for name, budget in TINY.tasks(seed)}
        assert set(zip(searched["searcher"], searched["budget"], strict=True)) == expected
        assert set(searched["optimizer"]) == {"milp", "appendix_e"}
    llm = [n for n, s in SEARCHERS.items() if s.uses_llm]
    by_seed = rows.filter(pl.col("searcher").is_in(llm)).group_by("seed").len()
    assert by_seed["seed"].to_list() == [0]  # the LLM searchers ran on llm_seeds only
    assert set(rows.filter(pl.col("searcher").is_in(llm))["backend"]) == {"fake-model"}


def test_no_method_beats_the_oracle_and_gaps_are_measured_against_it(
        rows: pl.DataFrame) -> None:
    oracle = rows.filter(pl.col("method") == ORACLE).select("seed", oracle="profit")
    judged = rows.join(oracle, on="seed")
    assert (judged["profit"] <= judged["oracle"] * (1 + 1e-9)).all()
    assert (judged["profit"] > 0).all()
    gap = 1.0 - judged["profit"] / judged["oracle"]
    assert (gap - judged["oracle_gap"]).abs().max() < 1e-12


def test_violations_are_counted_for_every_plan_not_hidden(rows: pl.DataFrame) -> None:
    planned = rows.filter(pl.col("kind") != "logged")
    assert planned["violations"].null_count() == 0
    assert (planned["customers_planned"] + planned["customers_without_plan"] > 0).all()
    # the logged policy is not judged: its violations stay unknown rather than 0
    assert rows.filter(pl.col("kind") == "logged")["violations"].is_null().all()
    # every plan is also judged on the contract's true locks, whatever it read
    assert rows["true_locks_missed"].null_count() == 0
    assert (rows.filter(pl.col("kind").is_in(["oracle", "baseline"]))["true_locks_missed"]
            == 0).all()


def test_diagnostic_rows_read_the_truth_and_say_so(rows: pl.DataFrame) -> None:
    diagnostic = rows.filter(pl.col("kind") == "diagnostic")
    assert diagnostic.height >= TINY.seeds
    assert diagnostic["method"].str.contains("diagnostic").all()
    # fed the true demand, its prediction is what it realizes
    assert ((diagnostic["predicted_profit"] - diagnostic["profit"]).abs()
            <= 1e-6 * diagnostic["profit"]).all()


def test_convergence_is_monotone_and_tables_summarize_the_seeds(
        results: list[SeedResult], rows: pl.DataFrame) -> None:
    curves = convergence_frame([c for r in results for c in r.convergence])
    assert curves.schema == pl.Schema(CONVERGENCE_SCHEMA)
    for _, run in curves.group_by("seed", "searcher", "budget"):
        best = run.sort("iteration")["best_fitness"]
        assert (best.diff().drop_nulls() >= 0).all()
    asked = curves.filter((pl.col("iteration") > 0) & (pl.col("searcher") == "llm_reflection"))
    assert (asked["llm_calls"] >= 1).all() and (asked["prompt_tokens"] > 0).all()
    assert curves.filter(pl.col("iteration") == 0)["status"].to_list().count("expert") >= 2
    assert set(convergence_series(curves)) >= {f"evolution N={b}" for b in TINY.budgets}
    table = summary(rows)
    oracle = table.filter(pl.col("method") == ORACLE).row(0, named=True)
    assert oracle["seeds"] == 2 and oracle["oracle_gap_mean"] == 0.0
    assert oracle["profit_sd"] > 0  # two different worlds
    assert set(searcher_table(rows)["searcher"]) == set(SEARCHERS)
    losses = component_losses(rows)
    assert losses.height == 5 and losses["seeds"][0] == 2
    top = headline(rows).row(0, named=True)
    assert top["seeds"] == 2 and 0 < top["share_of_oracle"] <= 1.0 + 1e-9
    assert top["vs_logged_policy"] > 0
    assert top["violations"] == 0 and top["vs_best_baseline"] > 0


def test_store_replaces_the_same_seeds_on_a_rerun(tmp_path, rows: pl.DataFrame,
                                                   results: list[SeedResult]) -> None:
    database = str(tmp_path / "w.duckdb")
    curves = convergence_frame([c for r in results for c in r.convergence])
    store(database, TINY, "a", rows, curves, 1.0)
    store(database, TINY, "b", rows.with_columns(run_id=pl.lit("b")), curves, 2.0)
    off = replace(TINY, documents="off")
    store(database, off, "c", rows.with_columns(documents=pl.lit("off")).filter(
        pl.col("seed") == 0), curves.head(0), 3.0)
    with duckdb.connect(database, read_only=True) as conn:
        stored = conn.execute(f"SELECT documents, run_id, count(*) n FROM {ROWS} "
                              "GROUP BY ALL ORDER BY ALL").fetchall()
    assert stored == [("off", "test", rows.filter(pl.col("seed") == 0).height),
                      ("stated", "b", rows.height)]
    shown, figures = _full_setting(DuckDBResource(database=database), "tiny")
    assert shown["full_setting_seeds"] == 2 and shown["full_setting_wall_seconds"] == 6.0
    assert "constrained oracle" in shown["full_setting"].value
    assert "± " in shown["full_setting"].value  # mean ± sd over the seeds
    assert "evolution" in shown["full_setting_searchers"].value
    assert "demand model" in shown["full_setting_components"].value
    assert "deployed_is_best" in shown["full_setting_deployment"].value
    assert "share_of_oracle" in shown["full_setting_headline"].value
    embedded_png(shown["full_setting_convergence"])
    assert set(figures) == {"convergence"}
    older = rows.drop("true_locks_missed").filter(pl.col("seed") == 1)
    store(database, replace(TINY, seeds=2), "d", older, curves.head(0), 4.0)
    with duckdb.connect(database, read_only=True) as conn:
        nulls = conn.execute(f"SELECT count(*) FROM {ROWS} WHERE true_locks_missed IS NULL"
                             ).fetchone()
    assert nulls == (older.height,)  # an older run's rows join the table, column null
    missing, _ = _full_setting(DuckDBResource(database=database), "demo")
    assert "not run yet" in missing["full_setting"]
    evolution_only = rows.filter(pl.col("searcher").is_null() | (pl.col("searcher") == "evolution"))
    store(database, TINY, "e", evolution_only.with_columns(run_id=pl.lit("e")), curves.head(0),
          5.0)
    with duckdb.connect(database, read_only=True) as conn:
        kept = dict(conn.execute(f"SELECT searcher, list_distinct(list(run_id)) FROM {ROWS} "
                                 "WHERE searcher IS NOT NULL AND documents = 'stated' GROUP BY ALL"
                                 ).fetchall())
    assert kept["evolution"] == ["e"]  # what the run searched is replaced,
    assert kept["llm_reflection"] != ["e"]  # the searches it did not make are kept
    other_model = rows.filter(pl.col("searcher") == "llm_reflection").with_columns(
        run_id=pl.lit("f"), backend=pl.lit("other-model"))
    store(database, TINY, "f", other_model, curves.head(0), 6.0)
    with duckdb.connect(database, read_only=True) as conn:
        backends = conn.execute(f"SELECT DISTINCT backend FROM {ROWS} WHERE documents = "
                                "'stated' AND searcher = 'llm_reflection' ORDER BY 1").fetchall()
    assert backends == [("fake-model",), ("other-model",)]  # another model: another column


def test_the_progress_bar_weighs_llm_searches_by_their_iterations() -> None:
    weights = step_weights(TINY, {"fake": scripted})
    assert len(weights) == sum(len(TINY.tasks(s)) + 2 for s in range(TINY.seeds))
    llm_iterations = sum(budget for s in range(TINY.seeds) for name, budget in TINY.tasks(s)
                         if SEARCHERS[name].uses_llm)
    assert sum(weights) - len(weights) == llm_iterations
    assert len(step_weights(TINY, None)) < len(weights)


def test_a_comparison_run_again_resumes_its_searches_from_their_checkpoints(tmp_path) -> None:
    settings = replace(TINY, checkpoints=str(tmp_path))
    world = seed_world(settings, 0)
    assert world.search_rows.rows["segment"].n_unique() > 1  # as rule_search's rows
    for name in SEARCHERS:
        first_backend, rerun_backend = (ScriptedBackend(responder=answer) for _ in range(2))
        heard: list[str] = []
        first, _, _ = run_search(world, name, 4, settings,
                                 ("fake", lambda b=first_backend: LLMClient(b, None)),
                                 lambda _: None)
        again, _, _ = run_search(world, name, 4, settings,
                                 ("fake", lambda b=rerun_backend: LLMClient(b, None)),
                                 heard.append)
        assert heard and heard[0].startswith("resumed after"), name
        assert [i.rule for i in again.iterations] == [i.rule for i in first.iterations]
        assert rerun_backend.calls == 0, name  # the rerun asks nothing
    assert len(list(tmp_path.glob("tiny-stated-seed0-*-N4*.json"))) >= 4  # rl's is a .pt
    assert len(list(tmp_path.glob("tiny-stated-seed0-*-N4-fake.json"))) == sum(
        spec.uses_llm for spec in SEARCHERS.values())  # an LLM search's file names its LLM


def test_each_llm_backend_runs_its_own_search_and_is_a_column_of_table_2(tmp_path) -> None:
    settings = replace(TINY, seeds=1, budgets=(2,), searchers=("direct_llm", "evolution"),
                       checkpoints=str(tmp_path))
    second = ScriptedBackend(responder=answer, model="second-model")
    llms = {"fake": scripted, "second": lambda: LLMClient(second, None)}
    result = run_seed(settings, 0, "two", llms)
    rows = rows_frame(result.rows)
    searched = rows.filter(pl.col("kind") == "searcher")
    assert searched.group_by("searcher").agg(pl.col("backend").n_unique()).sort(
        "searcher").rows() == [("direct_llm", 2), ("evolution", 1)]
    assert second.calls > 0
    table = searcher_table(rows)
    assert {"fake-model", "second-model"} <= set(table.columns)
    assert sorted(p.name for p in tmp_path.glob("*direct_llm*")) == [
        "tiny-stated-seed0-direct_llm-N2-fake.json", "tiny-stated-seed0-direct_llm-N2-second.json"]
    assert step_weights(settings, llms) == [1, 3, 3, 1, 1]


def test_a_rule_form_other_than_the_default_is_its_own_column_and_checkpoint(tmp_path) -> None:
    settings = replace(TINY, seeds=1, checkpoints=str(tmp_path), rule_form="text")
    world = seed_world(settings, 0)
    fake = ("fake", lambda: LLMClient(ScriptedBackend(responder=text_answer), None))
    result, backend, _ = run_search(world, "direct_llm", 2, settings, fake, lambda _: None)
    assert backend == "fake-model [text]" and len(result.iterations) == 3
    assert [p.name for p in tmp_path.iterdir()] == [
        "tiny-stated-seed0-direct_llm-N2-fake-text.json"]


def test_the_command_runs_each_rule_model_and_refuses_an_unknown_one() -> None:
    llms = parse(["--preset", "tiny", "--database", "x.duckdb",
                  "--rule-models", "qwen-coder-1.5b,gemma-3-270m"]).llms
    assert list(llms) == ["qwen-coder-1.5b", "gemma-3-270m"]
    assert parse(["--preset", "tiny", "--database", "x.duckdb", "--no-llm"]).llms is None
    with pytest.raises(ModelPackageMissing, match="gemma-9b"):
        parse(["--preset", "tiny", "--database", "x.duckdb", "--rule-models", "gemma-9b"])


def test_the_command_calibrates_plans_unless_told_not_to() -> None:
    calibrated = parse(["--preset", "tiny", "--database", "x.duckdb"]).settings
    ablation = parse(["--preset", "tiny", "--database", "x.duckdb", "--no-calibration"]).settings
    assert calibrated.plan.calibration.enabled
    assert not ablation.plan.calibration.enabled
    assert ablation.plan.method == calibrated.plan.method == "milp"


def test_the_command_passes_the_rule_form_to_the_searchers_that_write_rules() -> None:
    text = parse(["--preset", "tiny", "--database", "x.duckdb", "--rule-form", "text"]).settings
    assert text.rule_form == "text" and CompareSettings().rule_form == "tree"


def test_a_stopped_run_keeps_the_seeds_it_finished(tmp_path, monkeypatch,
                                                  results: list[SeedResult]) -> None:
    """The full setting runs for hours: each seed is stored as it finishes, so stopping the
    run during seed 1 keeps seed 0's rows and says how far the run got."""
    def seed_then_stop(settings, seed, run_id, llms, progress):
        if seed:
            raise KeyboardInterrupt
        return results[0]

    monkeypatch.setattr(command, "run_seed", seed_then_stop)
    database = str(tmp_path / "w.duckdb")
    with pytest.raises(KeyboardInterrupt):
        command.run(TINY, None, database, echo=lambda _: None)
    with duckdb.connect(database, read_only=True) as conn:
        seeds = conn.execute(f"SELECT DISTINCT seed FROM {ROWS}").fetchall()
        runs = conn.execute(f"SELECT seeds, seeds_finished FROM {RUNS}").fetchall()
    assert seeds == [(0,)]
    assert runs == [(2, 1)]  # one row per run: 2 seeds asked, 1 finished


def test_a_later_run_adds_seeds_beside_the_stored_ones(tmp_path, monkeypatch,
                                                       results: list[SeedResult]) -> None:
    """--first-seed 1 runs seed 1 only, the same seed a 2-seed run's second is (LLM
    searchers on the run's first), and keeps the stored seed 0."""
    later = parse(["--preset", "tiny", "--seeds", "1", "--first-seed", "1", "--llm-seeds",
                   "1", "--no-llm"]).settings
    assert list(later.seed_range()) == [1]
    with pytest.raises(ValueError, match="first_seed"):
        parse(["--preset", "tiny", "--first-seed", "-1", "--no-llm"])
    assert later.tasks(1) == replace(later, first_seed=0).tasks(0)
    monkeypatch.setattr(command, "run_seed",
                        lambda settings, seed, run_id, llms, progress: results[seed])
    database = str(tmp_path / "w.duckdb")
    command.run(replace(TINY, seeds=1), None, database, echo=lambda _: None)
    command.run(replace(TINY, seeds=1, first_seed=1), None, database, echo=lambda _: None)
    with duckdb.connect(database, read_only=True) as conn:
        seeds = conn.execute(f"SELECT DISTINCT seed FROM {ROWS} ORDER BY seed").fetchall()
        runs = conn.execute(f"SELECT seeds, seeds_finished FROM {RUNS}").fetchall()
    assert seeds == [(0,), (1,)]
    assert runs == [(1, 1), (1, 1)]


def test_report_only_prints_what_is_stored_and_runs_nothing(tmp_path, capsys, rows) -> None:
    database = str(tmp_path / "w.duckdb")
    assert command.main(["--preset", "tiny", "--database", database, "--report-only"]) == 1
    assert "nothing stored for 'tiny'" in capsys.readouterr().out
    store(database, TINY, "a", rows, convergence_frame([]), 1.0)
    assert command.main(["--preset", "tiny", "--database", database, "--report-only"]) == 0
    shown = capsys.readouterr().out
    assert "constrained oracle" in shown and "share_of_oracle" in shown


def test_the_deployed_rule_is_the_one_whose_plan_the_model_values_most_not_the_best_fitness(
        ) -> None:
    """A search's rule ahead on fitness (the searched months) whose MILP plan the model
    predicts to earn less in the plan month is not deployed: the expert rule's plan is."""
    def row(method: str, kind: str, searcher: str | None, optimizer: str, fitness: float | None,
            predicted: float | None, profit: float) -> dict[str, object]:
        return {"documents": "stated", "seed": 0, "method": method, "kind": kind,
                "searcher": searcher, "budget": None if searcher is None else 10,
                "backend": "none", "optimizer": optimizer, "fitness": fitness,
                "predicted_profit": predicted, "profit": profit, "violations": 0}

    rows = pl.DataFrame([
        row(f"{EXPERT} + milp", "rule", None, "milp", 100.0, 90.0, 80.0),
        row(f"{EXPERT} + appendix_e", "rule", None, "appendix_e", 100.0, 70.0, 60.0),
        row("rl N=10 + milp", "searcher", "rl", "milp", 100.1, 85.0, 50.0),
        row("rl N=10 + appendix_e", "searcher", "rl", "appendix_e", 100.1, 95.0, 40.0),
        row("best baseline", "baseline", None, "milp", None, None, 40.0),
        row(ORACLE, "oracle", None, "milp (truth)", None, None, 100.0),
        row("logged policy", "logged", None, "", None, None, 50.0),
    ])
    top = headline(rows).row(0, named=True)
    assert top["method"] == f"{EXPERT} + milp"
    check = deployment_check(rows).row(0, named=True)  # fitness would have deployed rl's
    assert (check["by_fitness"], check["deployed"], check["best"]) == (50.0, 80.0, 80.0)
    assert (check["deployed_better"], check["deployed_worse"], check["deployed_is_best"]) == (
        1, 0, 1)
    assert top["vs_best_baseline"] == pytest.approx(2.0)
    ahead = rows.with_columns(pl.when(pl.col("method") == "rl N=10 + milp").then(95.0)
                              .otherwise(pl.col("predicted_profit")).alias("predicted_profit"))
    assert headline(ahead).row(0, named=True)["method"] == "rl N=10 + milp"
    level = rows.with_columns(pl.when(pl.col("method") == "rl N=10 + milp").then(90.0)
                              .otherwise(pl.col("predicted_profit")).alias("predicted_profit"))
    searches_first = level.sort(pl.col("kind") == "rule")  # a stored frame's order is not kept
    assert headline(searches_first).row(0, named=True)["method"] == f"{EXPERT} + milp"


def test_the_dagster_comparison_headlines_the_rule_plan_the_model_values_most() -> None:
    """`method_comparison`'s headline plan is the deployed one of the expert rule's and the
    searches' MILP plans, the full setting's criterion; a tie keeps the expert rule."""
    def plan(name: str, predicted: float | None, profit: float) -> dict[str, object]:
        return {"plan": name, "predicted_profit": predicted, "profit": profit,
                "violations": 0}

    def table(best_predicted: float) -> pl.DataFrame:
        return pl.DataFrame([
            plan("logged policy", None, 50.0), plan("expert rule + milp", 90.0, 80.0),
            plan("best rule + milp", best_predicted, 60.0),
            plan("evolved rule + milp", 70.0, 90.0), plan(BASELINES[0], None, 40.0),
            plan(ORACLE, None, 100.0)])

    name, targets = _headline(table(best_predicted=85.0), [BASELINES[0]])
    assert name == "expert rule + milp" and targets["deeprule_vs_best_baseline"] == 2.0
    assert _headline(table(best_predicted=90.0), [BASELINES[0]])[0] == "expert rule + milp"
    name, targets = _headline(table(best_predicted=95.0), [BASELINES[0]])
    assert name == "best rule + milp" and targets["deeprule_share_of_oracle"] == 0.6
    missing = table(best_predicted=95.0).filter(pl.col("plan") != "evolved rule + milp")
    assert _headline(missing, [BASELINES[0]])[0] == "best rule + milp"  # a plan not made
