"""The priors assets in Dagster on the tiny world, with a scripted model answering from truth."""

from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from assets.evaluation import extraction_vs_truth
from assets.priors import (
    ExtractionConfig,
    customer_priors,
    decision_set,
    document_extractions,
    every_document_accounted,
    extractions_within_schema,
    no_failed_extractions,
    no_pending_extractions,
    one_row_per_customer,
    reward_table,
)
from assets.raw import raw_tables
from assets.simulator import truth_tables
from deeprule.llm import LLMError, ResponseCache
from deeprule.llm.testing import ScriptedBackend
from deeprule.priors.vocabulary import Vocabulary
from deeprule.synth import build_world, resolve_spec
from resources import default_resources
from resources.llm import LLMResource
from resources.world import WorldResource
from tests.helpers.plots import embedded_png
from tests.helpers.priors import oracle

BACKENDS: list[ScriptedBackend] = []
PRIORS = [document_extractions, customer_priors, reward_table, decision_set]
CHECKS = [no_failed_extractions, no_pending_extractions, every_document_accounted,
          extractions_within_schema, one_row_per_customer]


class ScriptedLLM(LLMResource):
    """The real resource with its backend swapped for the latest scripted one."""

    def client(self, task, backend=None):
        return super().client(task, BACKENDS[-1])


@pytest.fixture()
def world_oracle() -> ScriptedBackend:
    world = build_world(resolve_spec("tiny"))
    vocab = Vocabulary.from_catalog(world.skus())
    return oracle(world.documents(), world.document_facts(), vocab)


def resources(db: Path, tmp_path: Path, **llm) -> dict:
    out = default_resources(str(db))
    out["world"] = WorldResource(preset="tiny")
    out["llm"] = ScriptedLLM(cache_path=str(tmp_path / "llm_cache.duckdb"), **llm)
    return out


def materialize(res: dict, selection: list) -> dg.ExecuteInProcessResult:
    keys = [a for a in selection if isinstance(a, dg.AssetsDefinition)]
    checks = [c for c in selection if isinstance(c, dg.AssetChecksDefinition)]
    result = dg.materialize(
        [*raw_tables, *truth_tables, *PRIORS, extraction_vs_truth, *CHECKS], resources=res,
        selection=dg.AssetSelection.assets(*keys) | dg.AssetSelection.checks(*checks),
    )
    assert result.success
    return result


def query(db: Path, sql: str) -> pl.DataFrame:
    with duckdb.connect(str(db), read_only=True) as conn:
        return conn.execute(sql).pl()


def metadata(result: dg.ExecuteInProcessResult, key: str) -> dict:
    mat = result.asset_materializations_for_node(key)[0]
    return {k: v.value for k, v in mat.metadata.items()}


def test_priors_pipeline_end_to_end(tiny_db_copy: Path, tmp_path: Path,
                                    world_oracle: ScriptedBackend) -> None:
    BACKENDS.append(world_oracle)
    res = resources(tiny_db_copy, tmp_path, token_budget=0)
    result = materialize(res, [*truth_tables, *PRIORS, extraction_vs_truth, *CHECKS])
    n_docs = query(tiny_db_copy, "SELECT count(*) AS n FROM raw_documents")["n"].item()
    assert world_oracle.calls == n_docs
    evaluations = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert all(evaluations.values()), evaluations

    meta = metadata(result, "document_extractions")
    assert meta["llm_calls"] == n_docs and meta["documents_ok"] == n_docs
    assert meta["llm_tokens_spent"] == n_docs * 120
    assert "OPENAI_API_KEY" not in str(meta)

    priors = query(tiny_db_copy, "SELECT * FROM customer_priors")
    assert priors.height == 30 and priors["price_sensitivity"].is_not_null().all()
    quality = query(tiny_db_copy, "SELECT * FROM extraction_vs_truth")
    assert quality["value"].min() == 1.0  # the oracle states exactly the truth
    embedded_png(metadata(result, "extraction_vs_truth")["quality_plot"])
    assert query(tiny_db_copy, "SELECT count(*) AS n FROM reward_table")["n"].item() > 0
    assert query(tiny_db_copy, "SELECT count(*) AS n FROM decision_set")["n"].item() == 30

    assert ResponseCache(tmp_path / "llm_cache.duckdb").size() == n_docs

    # unchanged inputs: zero model calls, same table
    BACKENDS.append(ScriptedBackend())
    again = materialize(res, [document_extractions])
    assert BACKENDS[-1].calls == 0 and metadata(again, "document_extractions")["llm_calls"] == 0


def test_budget_stops_cleanly_and_the_next_run_continues(
    tiny_db_copy: Path, tmp_path: Path, world_oracle: ScriptedBackend
) -> None:
    BACKENDS.append(world_oracle)
    res = resources(tiny_db_copy, tmp_path, token_budget=1_200)  # 10 calls of 120 tokens
    first = materialize(res, [document_extractions, no_pending_extractions, customer_priors,
                              one_row_per_customer])
    meta = metadata(first, "document_extractions")
    assert (meta["documents_attempted"], meta["stopped_by"]) == (10, "token_budget")
    assert meta["documents_pending"] == meta["documents_sent"] - 10
    pending_check = first.get_asset_check_evaluations()
    assert not next(e for e in pending_check if e.check_name == "no_pending_extractions").passed
    priors = query(tiny_db_copy, "SELECT * FROM customer_priors")
    assert priors.height == 30 and (priors["n_pending"] > 0).any()

    second = materialize(res, [document_extractions])
    assert metadata(second, "document_extractions")["documents_attempted"] == 10
    assert world_oracle.calls == 20


def test_a_broken_endpoint_stops_the_asset_with_the_fix_and_stores_nothing(
    tiny_db_copy: Path, tmp_path: Path
) -> None:
    broken = ScriptedBackend(responder=lambda p, s: LLMError("AuthenticationError: 401"))
    BACKENDS.append(broken)
    result = dg.materialize(
        [*raw_tables, *PRIORS], resources=resources(tiny_db_copy, tmp_path, token_budget=0),
        selection=dg.AssetSelection.assets(document_extractions), raise_on_error=False)
    assert not result.success
    failure = result.failure_data_for_node("document_extractions").user_failure_data
    assert "Most likely fix: OPENAI_API_KEY" in failure.description
    assert broken.calls == 3  # three documents (a permanent error is not retried)
    with duckdb.connect(str(tiny_db_copy), read_only=True) as conn:
        tables = {row[0] for row in conn.execute("SHOW TABLES").fetchall()}
    assert "document_extractions" not in tables  # nothing marked failed: a rerun does them all


@pytest.mark.slow
def test_real_local_model_through_the_assets(tiny_db_copy: Path, tmp_path: Path) -> None:
    """Two documents through the real embedded model; the rest stay pending, none dropped."""
    res = default_resources(str(tiny_db_copy))
    res["world"] = WorldResource(preset="tiny")
    res["llm"] = LLMResource(cache_path=str(tmp_path / "llm_cache.duckdb"))
    result = dg.materialize(
        [*raw_tables, *PRIORS, *CHECKS], resources=res,
        selection=dg.AssetSelection.assets(document_extractions, customer_priors)
        | dg.AssetSelection.checks(every_document_accounted, extractions_within_schema,
                                   one_row_per_customer),
        run_config=dg.RunConfig(ops={"document_extractions": ExtractionConfig(max_documents=2)}),
    )
    assert result.success
    meta = metadata(result, "document_extractions")
    assert meta["backend"] == "local" and meta["documents_attempted"] == 2
    assert meta["llm_prompt_tokens"] > 0 and meta["stopped_by"] == "document_cap"
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    pending = checks.pop("no_pending_extractions")
    n_documents = query(tiny_db_copy, "SELECT count(*) AS n FROM raw_documents")["n"][0]
    assert pending.metadata["pending_documents"].value == n_documents - 2
    assert all(e.passed for e in checks.values()), checks
