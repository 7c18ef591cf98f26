"""Extraction cost and quality against document length, side by side on the same customers.

`make run` reads every `demo` document with the embedded Gemma model, and the
document's length (`WorldSpec.doc_max_words`: how far it is padded with
distractors) is what the model mostly pays for. For each length this builds the
`demo` world with that override, extracts the same per-type sample and prints
seconds and tokens per document with the quality against the document truth
(mean over the (doc_type, field) scores; the facts are the same at every
length, only the padding around them changes):

    python benchmarks/bench_doc_length.py [--docs 100] [--lengths 150,110,90]
"""

from __future__ import annotations

import argparse
import time

import polars as pl
from bench_llm import busy_label, extraction, sample

from deeprule.llm.factory import LLMSettings
from deeprule.llm.local import LocalBackend
from deeprule.llm.models import LOCAL_MODELS, local_model
from deeprule.priors.vocabulary import Vocabulary
from deeprule.synth.spec import resolve_spec
from deeprule.synth.world import build_world
from resources.paths import data_dir


def one_length(backend: LocalBackend, preset: str, words: int, n_docs: int) -> dict:
    world = build_world(resolve_spec(preset, {"doc_max_words": words}))
    docs = sample(world.documents(), n_docs)
    summary, quality = extraction(backend, docs, world.document_facts(),
                                  Vocabulary.from_catalog(world.skus()))
    scores = pl.DataFrame(quality).drop_nulls("value")
    return {"doc_max_words": words,
            "words_per_doc": docs["text"].str.split(" ").list.len().mean(),
            "docs_per_min": summary["docs_per_min"],
            "prompt_tok_per_doc": summary["prompt_tok_per_doc"],
            "completion_tok_per_doc": summary["completion_tok_per_doc"],
            "quality_mean": scores["value"].mean(),
            **{f"q_{t}": v for t, v in scores.group_by("doc_type").agg(pl.col("value").mean())
               .sort("doc_type").iter_rows()},
            "load_after": summary["load_after"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--docs", type=int, default=100)
    parser.add_argument("--lengths", default="150,110,90")
    parser.add_argument("--model", default="gemma-3-270m", choices=sorted(LOCAL_MODELS))
    args = parser.parse_args()
    backend = LocalBackend(data_dir() / "models", local_model(args.model),
                           max_tokens=LLMSettings.max_new_tokens)
    _ = backend.llama
    print(f"{args.model}, {args.docs} {args.preset} documents per length; before: "
          f"{busy_label()}", flush=True)
    rows = []
    for words in (int(w) for w in args.lengths.split(",")):
        started = time.perf_counter()
        rows.append(one_length(backend, args.preset, words, args.docs))
        print(f"  doc_max_words={words}: {time.perf_counter() - started:.0f}s", flush=True)
    with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_width_chars=250, float_precision=3):
        print(pl.DataFrame(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
