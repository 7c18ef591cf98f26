"""End to end through llama-cpp-python's own OpenAI-compatible server (slow): the openai
backend finds a mode the server takes and extracts valid rows with the smallest packaged
model (Gemma 3 270M)."""

import pytest

from deeprule.llm import LLMClient
from deeprule.llm.factory import LLMSettings
from deeprule.llm.models import GEMMA, model_file
from deeprule.llm.openai_backend import OpenAIBackend
from deeprule.llm.testing import llama_server
from deeprule.priors.extract import OK, plan_extraction, run_extraction
from deeprule.priors.schemas import extraction_schemas
from resources.paths import data_dir
from tests.helpers.priors import VOCAB

pytest.importorskip("llama_cpp.server.app", reason="needs llama-cpp-python[server] (dev extra)")


@pytest.mark.slow
def test_extraction_through_a_real_llama_cpp_server(docs, monkeypatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    path = model_file(GEMMA, data_dir() / "models")
    with llama_server(path, "gemma-3-270m", GEMMA.chat_format) as url:
        backend = OpenAIBackend("gemma-3-270m", url, max_tokens=LLMSettings.max_new_tokens,
                                system_in_user=True)  # the served gemma template drops it
        client = LLMClient(backend, None, timeout_s=300)
        plan = plan_extraction(docs, None, backend=backend.name, model=backend.model)
        run = run_extraction(plan, docs, client, VOCAB, "slow-test")
    ok = run.table.filter(run.table["status"] == OK)
    assert ok.height >= docs.height // 2, run.table.select("doc_id", "status", "error")
    schemas = extraction_schemas(VOCAB)
    for doc_type, text in ok.select("doc_type", "extraction").iter_rows():
        schemas[doc_type].model_validate_json(text)
    summary = client.usage.summary()
    assert summary["llm_mode"] == "json"  # llama.cpp refuses json_schema: the fallback
    assert summary["llm_prompt_tokens"] > 0
