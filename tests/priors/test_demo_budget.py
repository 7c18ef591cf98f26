"""The default token budget reads every `demo` document in one run (slow: builds demo)."""

import pytest

from deeprule.llm.local import format_prompt
from deeprule.llm.models import GEMMA, model_file
from deeprule.priors.prompts import extraction_prompt
from deeprule.priors.vocabulary import Vocabulary
from deeprule.synth import build_world, resolve_spec
from resources.llm import DEFAULT_TOKEN_BUDGET
from resources.paths import data_dir

MEAN_ANSWER_TOKENS = 61
"""Completion tokens per document measured by benchmarks/bench_llm.py (docs/llm.md)."""


@pytest.mark.slow
def test_default_budget_covers_every_demo_document_with_room_for_retries() -> None:
    import llama_cpp

    world = build_world(resolve_spec("demo"))
    vocab = Vocabulary.from_catalog(world.skus())
    tokenizer = llama_cpp.Llama(str(model_file(GEMMA, data_dir() / "models")),
                                vocab_only=True, verbose=False)
    prompts = [format_prompt(extraction_prompt(r["doc_type"], r["title"], r["text"], vocab))
               for r in world.documents().iter_rows(named=True)]
    needed = sum(len(tokenizer.tokenize(p.encode(), special=True)) + MEAN_ANSWER_TOKENS
                 for p in prompts)
    assert len(prompts) == 1_000
    assert needed * 1.1 < DEFAULT_TOKEN_BUDGET  # a tenth to spare for retried documents
