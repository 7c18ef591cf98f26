"""The embedded models side by side: speed, memory, extraction quality, rule proposals;
and prompt tokens per document through the openai backend (llama.cpp's own server).

Each model runs in its own process (its peak RSS is its own) on the same inputs:
a per-type sample of the demo world's documents (quality against the document
truth) and rule proposals on the demo search's candidate rows (the demand model
is fitted once here and handed to the children as arrays). Prints tables, and the
load average before each model, since other work on the 2 cores slows decoding:

    python benchmarks/bench_llm.py [--docs 20] [--proposals 4] [--server-docs 10] [--skip-speed]
                                   [--rule-forms tree,text] [--rule-contexts expert,scratch]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

from deeprule.evaluate.extraction import score_extractions
from deeprule.llm import LLMClient, ResponseCache
from deeprule.llm.factory import LLMSettings
from deeprule.llm.local import N_CTX, LocalBackend, format_prompt
from deeprule.llm.models import GEMMA, LOCAL_MODELS, local_model, model_file
from deeprule.llm.openai_backend import OpenAIBackend
from deeprule.llm.testing import llama_server
from deeprule.models.price import PriceBasis, PriceResponse
from deeprule.priors.extract import plan_extraction, run_extraction
from deeprule.priors.facts import extracted_facts
from deeprule.priors.prompts import extraction_prompt
from deeprule.priors.schemas import extraction_schemas
from deeprule.priors.vocabulary import Vocabulary
from deeprule.rules import parse_program
from deeprule.search.check import row_context, rule_problems
from deeprule.search.objective import RULE_FEATURES, Candidates
from deeprule.search.proposal import ProposalContext, propose
from deeprule.search.reflect import EXPERT_RULE, OBJECTIVE, SearchConfig, fitted
from deeprule.synth import build_world, resolve_spec
from resources.paths import data_dir

HERE = Path(__file__).resolve()
SPEED_TOKENS = 64


def sample(documents: pl.DataFrame, n: int) -> pl.DataFrame:
    """n documents, the same share of each doc_type (deterministic)."""
    per_type = max(n // documents["doc_type"].n_unique(), 1)
    return documents.sort("doc_id").group_by("doc_type", maintain_order=True).head(per_type)


def busy_label() -> str:
    load = os.getloadavg()[0]
    return f"load {load:.1f} on {os.cpu_count()} cores ({'busy' if load > 1.0 else 'idle'})"


# ---------------------------------------------------------------- one model (child process)

def speed(backend: LocalBackend, docs: pl.DataFrame, vocab: Vocabulary) -> dict:
    """Prompt and generated tokens/s, free and schema-constrained, on one profile prompt."""
    llama = backend.llama
    row = docs.filter(pl.col("doc_type") == "profile").row(0, named=True)
    prompt = extraction_prompt("profile", row["title"], row["text"], vocab)
    text = format_prompt(prompt, backend.spec.chat_format)

    def timed(max_tokens: int) -> tuple[float, dict]:
        llama.reset()  # no prefix reuse: the whole prompt is evaluated
        started = time.perf_counter()
        out = llama(text, max_tokens=max_tokens, temperature=0.0)
        return time.perf_counter() - started, out["usage"]

    prompt_s, usage = timed(1)
    total_s, free = timed(SPEED_TOKENS)
    llama.reset()
    started = time.perf_counter()
    gen = backend.generate(prompt, extraction_schemas(vocab)["profile"], timeout_s=600)
    constrained_s = time.perf_counter() - started
    return {
        "prompt_tok_s": usage["prompt_tokens"] / prompt_s,
        "gen_tok_s_free": (free["completion_tokens"] - 1) / max(total_s - prompt_s, 1e-9),
        "gen_tok_s_constrained": gen.completion_tokens / max(constrained_s - prompt_s, 1e-9),
    }


def extraction(backend: LocalBackend, docs: pl.DataFrame, truth: pl.DataFrame,
               vocab: Vocabulary) -> tuple[dict, list[dict]]:
    with tempfile.TemporaryDirectory() as tmp:
        plan = plan_extraction(docs, None, backend=backend.name, model=backend.model)
        started = time.perf_counter()
        with LLMClient(backend, ResponseCache(Path(tmp) / "c.duckdb"), timeout_s=600) as client:
            run = run_extraction(plan, docs, client, vocab, "bench", progress=lambda line: None)
        seconds = time.perf_counter() - started
    usage = client.usage.summary()
    n = docs.height
    quality = score_extractions(extracted_facts(run.table),
                                 truth.join(docs.select("doc_id"), on="doc_id"))
    return {
        "documents": n, "ok": int((run.table["status"] == "ok").sum()),
        "docs_per_min": 60 * n / seconds, "load_after": busy_label(),
        "prompt_tok_per_doc": usage["llm_prompt_tokens"] / n,
        "completion_tok_per_doc": usage["llm_completion_tokens"] / n,
    }, quality.select("doc_type", "field", "metric", "value", "n_docs").to_dicts()


RULE_CONTEXTS = {
    "expert": {"current_rule": EXPERT_RULE},
    "scratch": {},
    "reflection": {"current_rule": EXPERT_RULE,
                   "reflection": "the usual price ignores price sensitivity and elasticity",
                   "failing": ("wholesaler / large: loss 0.123 over 800 rows",
                               "pharmacy_chain / mid: loss 0.081 over 700 rows")},
}
"""What a proposal is asked from: the expert rule (construction), nothing, or a reflection
on (made-up) failing segments."""


def proposals(backend: LocalBackend, cand: Candidates, n: int, rule_form: str,
              asked: str) -> dict:
    """n proposals (greedy, then sampled) from the `asked` context of RULE_CONTEXTS written
    as `rule_form` (a JSON tree or grammar-held text): parse, pass, improve Φ."""
    config = SearchConfig()
    _, expert_out = fitted(parse_program(EXPERT_RULE, RULE_FEATURES), cand, config)
    context = ProposalContext(RULE_FEATURES, OBJECTIVE, depth=config.depth,
                              rule_form=rule_form, **RULE_CONTEXTS[asked])
    rows = row_context(cand)
    client = LLMClient(backend, None, timeout_s=900)
    parsed = passed = improved = 0
    best = expert_out.fitness
    started = time.perf_counter()
    examples = []
    for number in range(n):
        try:
            proposal = propose(client, context, sample=number, check_retries=0)
        except Exception as err:  # noqa: BLE001 - a failed proposal is a counted outcome
            examples.append(f"failed: {str(err)[:120]}")
            continue
        parsed += 1
        problems = rule_problems(proposal.program, rows, config.check)
        examples.append(" ".join(proposal.text.split()) + (f"  REFUSED: {problems[0]}"
                                                          if problems else ""))
        if problems:
            continue
        passed += 1
        phi = fitted(proposal.program, cand, config)[1].fitness
        improved += phi > expert_out.fitness
        best = max(best, phi)
    usage = client.usage.summary()
    return {"form": rule_form, "context": asked, "proposals": n, "parsed": parsed,
            "passed_check": passed,
            "improved_phi": improved, "best_phi_gain": best - expert_out.fitness,
            "s_per_proposal": (time.perf_counter() - started) / n,
            "completion_tok_per_proposal": usage["llm_completion_tokens"] / n,
            "examples": examples}


def one_model(name: str, args: argparse.Namespace) -> None:
    """Everything measured for one model; written as JSON to args.out."""
    world = build_world(resolve_spec(args.preset))
    docs = sample(world.documents(), args.docs)
    vocab = Vocabulary.from_catalog(world.skus())
    spec = local_model(name)
    models = data_dir() / "models"
    started = time.perf_counter()
    model_file(spec, models)
    assembled_s = time.perf_counter() - started
    load = busy_label()
    backend = LocalBackend(models, spec, n_threads=args.threads,
                           max_tokens=LLMSettings.max_new_tokens)
    started = time.perf_counter()
    _ = backend.llama
    load_s = time.perf_counter() - started
    result = {"model": name, "load_before": load, "assemble_or_check_s": assembled_s,
              "load_s": load_s, **({} if args.skip_speed else speed(backend, docs, vocab))}
    save(result, args.out)  # each stage is kept if a later one is stopped
    if args.proposals:
        rule_backend = LocalBackend(models, spec, n_threads=args.threads,
                                    max_tokens=LLMSettings.rule_max_new_tokens)
        cand = load_candidates(Path(args.candidates))
        result["rules"] = [proposals(rule_backend, cand, args.proposals, form, asked)
                           for asked in args.rule_contexts.split(",")
                           for form in args.rule_forms.split(",")]
        save(result, args.out)
    if args.docs:
        summary, quality = extraction(backend, docs, world.document_facts(), vocab)
        result |= {"extraction": summary, "quality": quality}
        save(result, args.out)


def save(result: dict, path: str) -> None:
    result["peak_rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    result["load_after"] = busy_label()
    Path(path).write_text(json.dumps(result))


# ---------------------------------------------------------------- candidates handed over

def save_candidates(cand: Candidates, folder: Path) -> None:
    r = cand.response
    np.savez(folder / "response.npz", level=r.level, slopes=r.slopes, r_usual=r.r_usual,
             list_price=r.list_price, knots=np.asarray(r.basis.knots))
    np.savez(folder / "columns.npz", **cand.columns)
    cand.rows.write_parquet(folder / "rows.parquet")


def load_candidates(folder: Path) -> Candidates:
    with np.load(folder / "response.npz") as r, np.load(folder / "columns.npz") as c:
        response = PriceResponse(r["level"], r["slopes"], r["r_usual"], r["list_price"],
                                 PriceBasis(tuple(float(k) for k in r["knots"])))
        columns = {k: c[k] for k in c.files}
    return Candidates(pl.read_parquet(folder / "rows.parquet"), columns, response)


def demo_candidates(preset: str) -> Candidates:
    from deeprule.evaluate.experiment import world_tables
    from deeprule.models.dataset import prepare
    from deeprule.models.demand import DemandConfig, fit_demand
    from deeprule.search.objective import candidates

    tables = world_tables(build_world(resolve_spec(preset)))
    data = prepare(tables, 2, 2)
    fit = fit_demand(data.train, data.valid, data.spec, DemandConfig(beta=0.3))
    return candidates(data.test, fit.scorer.response(data.test), tables.shipments)


# ---------------------------------------------------------------- openai backend via a server

def server_tokens(args: argparse.Namespace) -> dict:
    """Tokens per document through the openai backend (mode auto) against Gemma served."""
    world = build_world(resolve_spec(args.preset))
    docs = sample(world.documents(), args.server_docs)
    vocab = Vocabulary.from_catalog(world.skus())
    path = model_file(GEMMA, data_dir() / "models")
    with llama_server(path, "gemma-3-270m", GEMMA.chat_format, args.threads) as url:
        backend = OpenAIBackend("gemma-3-270m", url, max_tokens=LLMSettings.max_new_tokens,
                                system_in_user=True)  # the served gemma template drops it
        plan = plan_extraction(docs, None, backend=backend.name, model=backend.model)
        started = time.perf_counter()
        with LLMClient(backend, None, timeout_s=300, breaker_after=5) as client:
            run = run_extraction(plan, docs, client, vocab, "bench", progress=lambda line: None)
        seconds = time.perf_counter() - started
    usage = client.usage.summary()
    n = docs.height
    return {"backend": f"openai ({usage['llm_mode'] or backend.mode}, llama.cpp server, Gemma)",
            "documents": n, "ok": int((run.table["status"] == "ok").sum()),
            "docs_per_min": 60 * n / seconds,
            "prompt_tok_per_doc": usage["llm_prompt_tokens"] / n,
            "completion_tok_per_doc": usage["llm_completion_tokens"] / n,
            "halted": run.halted[:200]}


# ---------------------------------------------------------------- the tables

def print_tables(results: list[dict], server: dict | None) -> None:
    cfg = pl.Config(tbl_rows=60, tbl_cols=20, tbl_width_chars=200, tbl_hide_dataframe_shape=True,
                    float_precision=2, fmt_str_lengths=120)
    with cfg:
        print(f"runtime (n_threads=2, n_ctx={N_CTX}, greedy):")
        print(pl.DataFrame([{k: r.get(k) for k in ("model", "load_before", "load_s", "peak_rss_gib",
                                                "prompt_tok_s", "gen_tok_s_free",
                                                "gen_tok_s_constrained")} for r in results]))
        rows = [{"backend": f"local {r['model']}", **r["extraction"]} for r in results
                if "extraction" in r]
        if server:
            rows.append({k: v for k, v in server.items() if k != "halted"})
        print("extraction (demo sample; tokens per document per backend):")
        print(pl.DataFrame(rows))
        if server and server["halted"]:
            print(f"server run halted: {server['halted']}")
        scored = [pl.DataFrame(r["quality"]).with_columns(model=pl.lit(r["model"]))
                  for r in results if "quality" in r]
        if scored:
            print("extraction quality vs document truth:")
            print(pl.concat(scored).pivot("model", index=["doc_type", "field", "metric"],
                                          values=["value", "n_docs"]))
        rules = [{"model": r["model"], **{k: v for k, v in form.items() if k != "examples"}}
                 for r in results for form in r.get("rules", [])]
        if rules:
            print("rule proposals on the demo candidates (parse / pass the check / improve Φ "
                  "over the fitted expert rule after fitting):")
            print(pl.DataFrame(rules))
            for r in results:
                for form in r.get("rules", []):
                    for line in form["examples"]:
                        print(f"  {r['model']} {form['form']} {form['context']}: {line}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--docs", type=int, default=20)
    parser.add_argument("--proposals", type=int, default=4)
    parser.add_argument("--server-docs", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rule-forms", default="tree,text",
                        help="how proposals are written: tree (JSON) and/or text (grammar)")
    parser.add_argument("--rule-contexts", default="expert",
                        help=f"what proposals are asked from: {','.join(RULE_CONTEXTS)}")
    parser.add_argument("--models", default=",".join(LOCAL_MODELS))
    parser.add_argument("--skip-speed", action="store_true",
                        help="no tokens/s stage (meaningless on a busy machine)")
    parser.add_argument("--one", default="", help=argparse.SUPPRESS)
    parser.add_argument("--out", default="", help=argparse.SUPPRESS)
    parser.add_argument("--candidates", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        one_model(args.one, args)
        return 0
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.proposals:
            started = time.perf_counter()
            save_candidates(demo_candidates(args.preset), folder)
            print(f"demo candidates and demand model: {time.perf_counter() - started:.0f}s",
                  flush=True)
        for name in args.models.split(","):
            out = folder / f"{name}.json"
            print(f"--- {name}: {busy_label()}", flush=True)
            code = subprocess.call([sys.executable, str(HERE), "--one", name, "--out", str(out),
                                    "--candidates", str(folder), "--preset", args.preset,
                                    "--docs", str(args.docs), "--proposals",
                                    str(args.proposals), "--threads", str(args.threads),
                                    "--rule-forms", args.rule_forms,
                                    "--rule-contexts", args.rule_contexts]
                                   + ["--skip-speed"] * args.skip_speed)
            if code:
                print(f"{name}: exit {code}", file=sys.stderr)
                return code
            results.append(json.loads(out.read_text()))
    server = server_tokens(args) if args.server_docs else None
    print_tables(results, server)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
