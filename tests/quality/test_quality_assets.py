"""The quality assets in Dagster on the tiny world, with synthetic predictions and a fake LLM."""

from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest
from dagster_duckdb import DuckDBResource

from assets.quality import (
    CleaningConfig,
    FusionConfig,
    ReportConfig,
    quality_cleaning,
    quality_fused_predictions,
    quality_report,
    quality_rule_base,
)
from assets.raw import raw_tables, shipments
from deeprule.llm.testing import ScriptedBackend
from deeprule.synth import build_world, resolve_spec
from resources import default_resources
from resources.llm import LLMResource
from resources.world import WorldResource
from tests.helpers.quality import WordHashEncoder, answer, predictions_from, priors_from_documents

QUALITY = [quality_rule_base, quality_fused_predictions, quality_cleaning, quality_report]


@pytest.fixture()
def scripted(monkeypatch: pytest.MonkeyPatch) -> list[ScriptedBackend]:
    """Every LLM client the assets open answers from the last backend appended here."""
    backends: list[ScriptedBackend] = []
    real = LLMResource.client
    monkeypatch.setattr(LLMResource, "client",
                        lambda self, task, backend=None: real(self, task, backends[-1]))
    return backends


@dg.asset(group_name="scorers", deps=[shipments])
def demand_predictions(duckdb: DuckDBResource) -> pl.DataFrame:
    """Stand-in for the scorers' asset: the contract's columns from the logged shipments."""
    with duckdb.get_connection() as conn:
        return predictions_from(conn.execute("SELECT * FROM shipments").pl())


def _setup(db: Path, tmp_path: Path, **llm) -> dict:
    priors = priors_from_documents(build_world(resolve_spec("tiny")).document_facts())
    with duckdb.connect(str(db)) as conn:
        conn.register("priors_frame", priors)
        conn.execute("CREATE TABLE customer_priors AS SELECT * FROM priors_frame")
    res = default_resources(str(db))
    res["world"] = WorldResource(preset="tiny")
    res["llm"] = LLMResource(cache_path=str(tmp_path / "llm_cache.duckdb"), **llm)
    res["sku_embedder"] = WordHashEncoder()
    return res


def _run(res: dict, selection: list, **config) -> dg.ExecuteInProcessResult:
    result = dg.materialize([*raw_tables, shipments, demand_predictions, *QUALITY],
                            resources=res, selection=selection,
                            run_config=dg.RunConfig(ops=config))
    assert result.success
    return result


def _table(db: Path, name: str) -> pl.DataFrame | None:
    """A whole table as written by the IO manager, or None if the run left none."""
    with duckdb.connect(str(db), read_only=True) as conn:
        tables = {row[0] for row in conn.execute("SHOW TABLES").fetchall()}
        return conn.execute(f'SELECT * FROM "{name}"').pl() if name in tables else None


def _metadata(result: dg.ExecuteInProcessResult, key: str) -> dict:
    mat = next(m for m in result.get_asset_materialization_events()
               if m.asset_key == dg.AssetKey(key))
    return {k: v.value for k, v in mat.materialization.metadata.items()}


def test_quality_loop_end_to_end(tiny_db_copy: Path, tmp_path: Path,
                                 scripted: list[ScriptedBackend]) -> None:
    scripted.append(ScriptedBackend(responder=answer(alpha=0.5)))
    res = _setup(tiny_db_copy, tmp_path, token_budget=0)
    result = _run(res, [demand_predictions, *QUALITY],
                  quality_fused_predictions=FusionConfig(max_alpha_calls=0),
                  quality_cleaning=CleaningConfig(max_judgments=10),
                  quality_report=ReportConfig(max_epochs=2))
    rules = _table(tiny_db_copy, "quality_rule_base")
    assert set(rules["kind"]) == {"strict", "soft"}

    fused = _table(tiny_db_copy, "quality_fused_predictions")
    preds = _table(tiny_db_copy, "demand_predictions")
    assert fused.height == preds.height
    meta = _metadata(result, "quality_fused_predictions")
    assert meta["rows_soft_blended"] > 0 and meta["rows_without_alpha"] == 0
    assert meta["llm_calls"] == scripted[-1].calls - 10 > 0  # the rest are judgments
    assert (fused.filter(pl.col("alpha_source") == "llm")["alpha"] == 0.5).all()
    assert 0.0 <= meta["beta"] <= 0.1

    judged = _table(tiny_db_copy, "quality_judgments")
    log = _table(tiny_db_copy, "quality_cleaning_log")
    assert judged.height == 10 and (judged["outcome"] == "excluded").all()
    assert log.filter(pl.col("source") == "llm_judgment").height == 10

    report = _table(tiny_db_copy, "quality_report")
    assert {"baseline", "fusion", "calibration", "refit", "cleaning", "augmentation"} <= set(
        report["step"])
    assert report["wape"].is_not_null().all() and (report["rows"] > 0).all()
    assert _metadata(result, "quality_report")["refits"] == 3

    # unchanged inputs: every LLM answer comes from the cache
    scripted.append(ScriptedBackend())
    again = _run(res, [quality_fused_predictions, quality_cleaning],
                 quality_fused_predictions=FusionConfig(max_alpha_calls=0),
                 quality_cleaning=CleaningConfig(max_judgments=10))
    assert scripted[-1].calls == 0
    assert _metadata(again, "quality_fused_predictions")["llm_cache_hits"] > 0


VALID = {"judgment": "valid", "reason": "a plausible promotion month", "action": "exclude",
         "rule": {"field": "units", "comparator": "above", "threshold": 99999}}


def test_budget_and_caps_leave_rows_unblended_and_counted(
        tiny_db_copy: Path, tmp_path: Path, scripted: list[ScriptedBackend]) -> None:
    scripted.append(ScriptedBackend(responder=answer(alpha=0.0, judgment=VALID)))
    res = _setup(tiny_db_copy, tmp_path, token_budget=360)  # three calls of 120 tokens per asset
    result = _run(res, [demand_predictions, quality_rule_base, quality_fused_predictions,
                        quality_cleaning],
                  quality_fused_predictions=FusionConfig(max_alpha_calls=5),
                  quality_cleaning=CleaningConfig(max_judgments=4))
    meta = _metadata(result, "quality_fused_predictions")
    assert scripted[-1].calls == 3 + 3
    assert meta["rows_without_alpha_budget"] > 0 and meta["rows_soft_blended"] > 0
    fused = _table(tiny_db_copy, "quality_fused_predictions")
    missing = fused.filter(pl.col("alpha_source").is_in(["token_budget", "call_cap"]))
    assert missing["alpha"].is_null().all()
    assert (missing["a_fused"] == missing["predicted_units"]).all()  # not blended
    judged = _table(tiny_db_copy, "quality_judgments").sort("confidence")
    assert judged["status"].to_list() == ["ok"] * 3 + ["not_judged"]
    assert (judged["outcome"] == "kept").all()
    assert _metadata(result, "quality_judgments")["status_not_judged"] == 1
    # nothing excluded: no cleaning-log table (none left over from an earlier run either)
    assert _table(tiny_db_copy, "quality_cleaning_log") is None


@pytest.mark.slow
def test_real_local_model_on_two_samples(tiny_db_copy: Path, tmp_path: Path) -> None:
    """Two weight requests and two judgments through the embedded model: valid or recorded."""
    res = _setup(tiny_db_copy, tmp_path)
    res["llm"] = LLMResource(cache_path=str(tmp_path / "llm_cache.duckdb"))
    result = _run(res, [demand_predictions, quality_rule_base, quality_fused_predictions,
                        quality_cleaning],
                  quality_fused_predictions=FusionConfig(max_alpha_calls=2),
                  quality_cleaning=CleaningConfig(max_judgments=2))
    meta = _metadata(result, "quality_fused_predictions")
    assert meta["backend"] == "local" and meta["llm_prompt_tokens"] > 0
    fused = _table(tiny_db_copy, "quality_fused_predictions")
    answered = fused.filter(pl.col("alpha_source") == "llm")["alpha"]
    assert answered.is_between(0.0, 1.0).all()
    judged = _table(tiny_db_copy, "quality_judgments")
    assert judged.height == 2 and judged["status"].is_in(["ok", "failed"]).all()
