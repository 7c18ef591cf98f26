"""Every registered searcher on a toy market whose best rule is known, at N = 50/100/300.

The market (deeprule/search/toy.py): constant elasticity 3, so the profit-maximizing
price is 1.5 x cost on every row; usual prices spread around 1.2 x cost (`--spread`),
so fitting the expert rule's `usual_price * c` does not reach it — a searcher must find
a rule that reads the cost. Fitness: η = 0 (no pull towards the usual price, so the
planted rule is the optimum of Φ), λ = 0.05, ρ = 1. Each searcher runs through the
registry (the same request: budget N, seed, fitness) from the expert rule.

LLM searchers get, by default, a scripted random client (seeded): rule proposals are
`stock: hist_units > 0`, `price: <one of the price features> * <a number in [0.8, 2]>`,
and tree-search advice is up to three random legal tokens with a random value — a
baseline of no knowledge, not a model. `--llm` uses the configured model instead
(DEEPRULE_LLM_*, a fresh cache; slow on CPU: pair it with `--budgets 10`).

    python benchmarks/bench_searchers.py [--budgets 50 100 300] [--seeds 3] [--spread 0.25]
        [--llm] [--searchers rl mcts]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl

from deeprule.llm import LLMClient, Prompt
from deeprule.llm.testing import ScriptedBackend
from deeprule.rules import decide, parse_program
from deeprule.search.objective import RULE_FEATURES, FitnessConfig, outcome
from deeprule.search.searchers import SEARCHERS, SearchRequest
from deeprule.search.toy import TOY_OPTIMUM, toy_market

FITNESS = FitnessConfig(eta=0.0, lam=0.05)
PRICE_FEATURES = ("cost", "usual_price", "list_price", "market_price")


def random_llm(seed: int) -> LLMClient:
    """A client whose answers are seeded random draws (see the module docstring)."""
    rng = np.random.default_rng(seed)

    def answer(prompt: Prompt, schema: type) -> str:
        if schema.__name__ == "TokenAdvice":
            legal = prompt.user.split("Allowed next tokens: ")[1].split("\n")[0].split(", ")
            picks = rng.choice(len(legal), size=min(3, len(legal)), replace=False)
            return json.dumps({"next_tokens": [legal[int(i)] for i in picks],
                               "promise": round(float(rng.uniform()), 2)})
        price = {"kind": "op", "op": "*",
                 "left": {"kind": "feature", "name": str(rng.choice(PRICE_FEATURES))},
                 "right": {"kind": "number", "value": round(float(rng.uniform(0.8, 2.0)), 2)}}
        stock = {"left": {"kind": "feature", "name": "hist_units"}, "cmp": ">",
                 "right": {"kind": "number", "value": 0.0}}
        return json.dumps({"reflection": "a random draw", "stock": stock, "price": price})

    return LLMClient(ScriptedBackend(responder=answer, model="random"), None)


def real_llm(cache_dir: Path) -> LLMClient:
    """The configured model, as `make run` would use it, with a fresh cache and no token cap."""
    from deeprule.llm.factory import make_client
    from resources.llm import LLMResource

    settings = replace(LLMResource.from_env().settings(), cache_path=str(cache_dir / "c.duckdb"),
                       token_budget=0, timeout_s=600.0)
    return make_client(settings, "rule_proposal")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", type=int, nargs="+", default=[50, 100, 300])
    parser.add_argument("--spread", type=float, default=0.25)
    parser.add_argument("--rows", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=0, help="the first seed")
    parser.add_argument("--seeds", type=int, default=3, help="runs per searcher and N")
    parser.add_argument("--llm", action="store_true", help="the configured model, not random")
    parser.add_argument("--searchers", nargs="+", default=sorted(SEARCHERS))
    args = parser.parse_args()
    cand = toy_market(args.rows, usual_spread=args.spread)
    planted = parse_program(TOY_OPTIMUM, RULE_FEATURES)
    optimum = outcome(planted, decide(planted, cand.columns), cand, FITNESS)
    print(f"toy market: {cand.height:,} rows, usual price 1.2 x cost x U(1 ± {args.spread}); "
          f"planted rule 1.5 x cost: Φ {optimum.fitness:.3f}, profit {optimum.profit:,.0f}")
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.searchers:
            chosen = SEARCHERS[name]
            for budget in args.budgets:
                for seed in range(args.seed, args.seed + args.seeds):
                    client = (real_llm(Path(tmp)) if args.llm else random_llm(seed)) \
                        if chosen.uses_llm else None
                    started = time.perf_counter()
                    result = chosen.run(cand, SearchRequest(budget, seed, FITNESS), client,
                                        lambda _: None)
                    runs.append({
                        "searcher": name, "N": budget,
                        "llm": ("configured" if args.llm else "random") if chosen.uses_llm
                        else "-",
                        "expert Φ": result.iterations[0].fitness,
                        "best Φ": result.best_outcome.fitness,
                        "profit %": 100 * result.best_outcome.profit / optimum.profit,
                        "best at": result.best_number,
                        "llm calls": len(client.usage.records) if client else 0,
                        "seconds": time.perf_counter() - started})
                    print(f"  {name} N={budget} seed {seed}: best Φ "
                          f"{result.best_outcome.fitness:.3f}", flush=True)
    table = pl.DataFrame(runs).group_by("searcher", "N", "llm", maintain_order=True).agg(
        pl.col("expert Φ").mean(), pl.col("best Φ").mean().alias("best Φ (mean)"),
        (optimum.fitness - pl.col("best Φ").mean()).alias("Φ gap (mean)"),
        pl.col("profit %").mean().alias("profit % of planted (mean)"),
        pl.col("profit %").min().alias("(worst seed)"),
        (pl.col("profit %") >= 97).sum().alias("seeds ≥ 97 %"),
        pl.col("best at").mean().alias("best at iteration (mean)"),
        pl.col("llm calls").mean(), pl.col("seconds").mean().alias("seconds (mean)"))
    print(f"{args.seeds} seed(s) from {args.seed}; planted rule profit {optimum.profit:,.0f}")
    with pl.Config(tbl_rows=-1, float_precision=3, tbl_width_chars=200, tbl_cols=-1):
        print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
