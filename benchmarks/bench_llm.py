"""Local LLM extraction speed (documents/minute, tokens/document) and quality vs truth.

Runs the real local backend on a sample of the demo world's documents, twice:
cold (empty response cache) and warm (every answer cached). Prints a table.

    python benchmarks/bench_llm.py [--docs 40] [--preset demo] [--threads 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import polars as pl

from deeprule.evaluate.extraction import score_extractions
from deeprule.llm import LLMClient, ResponseCache
from deeprule.llm.local import LocalBackend, model_file
from deeprule.priors.extract import plan_extraction, run_extraction
from deeprule.priors.facts import extracted_facts
from deeprule.priors.vocabulary import Vocabulary
from deeprule.synth import build_world, resolve_spec
from resources.paths import data_dir


def sample(documents: pl.DataFrame, n: int) -> pl.DataFrame:
    """n documents, the same share of each doc_type (deterministic)."""
    per_type = max(n // documents["doc_type"].n_unique(), 1)
    return documents.sort("doc_id").group_by("doc_type", maintain_order=True).head(per_type)


def timed_run(docs: pl.DataFrame, backend: LocalBackend, cache: ResponseCache,
              vocab: Vocabulary) -> tuple[pl.DataFrame, float, dict]:
    plan = plan_extraction(docs, None, backend=backend.name, model=backend.model)
    started = time.perf_counter()
    with LLMClient(backend, cache, timeout_s=120) as client:
        run = run_extraction(plan, docs, client, vocab, "bench", progress=lambda line: None)
    return run.table, time.perf_counter() - started, client.usage.summary()


def row(label: str, table: pl.DataFrame, seconds: float, usage: dict) -> dict:
    n = table.height
    return {
        "run": label, "documents": n, "ok": int((table["status"] == "ok").sum()),
        "seconds": round(seconds, 1), "docs_per_min": round(60 * n / seconds, 1),
        "prompt_tok_per_doc": round(usage["llm_prompt_tokens"] / n, 1),
        "completion_tok_per_doc": round(usage["llm_completion_tokens"] / n, 1),
        "cache_hits": usage["llm_cache_hits"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=40)
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    world = build_world(resolve_spec(args.preset))
    docs = sample(world.documents(), args.docs)
    vocab = Vocabulary.from_catalog(world.skus())
    models = data_dir() / "models"
    started = time.perf_counter()
    model_file(models)
    backend = LocalBackend(models, n_threads=args.threads)
    _ = backend.llama
    load_s = time.perf_counter() - started

    with tempfile.TemporaryDirectory() as tmp:
        cache = ResponseCache(Path(tmp) / "bench_cache.duckdb")
        cold = timed_run(docs, backend, cache, vocab)
        warm = timed_run(docs, backend, cache, vocab)
    speed = pl.DataFrame([row("cold cache", *cold), row("warm cache", *warm)])
    quality = score_extractions(extracted_facts(cold[0]),
                                 world.document_facts().join(docs.select("doc_id"), on="doc_id"))
    with pl.Config(tbl_rows=50, tbl_cols=20, tbl_width_chars=160, tbl_hide_dataframe_shape=True):
        print(f"local backend {backend.model}, {args.threads} threads, model load {load_s:.1f}s")
        print(speed)
        print("quality vs document truth (cold run):")
        print(quality.select("doc_type", "field", "metric", pl.col("value").round(3), "n_docs",
                             "coverage"))
        failures = cold[0].filter(pl.col("status") != "ok")
        if failures.height:
            print(failures.select("doc_id", "doc_type", "error"))


if __name__ == "__main__":
    main()
