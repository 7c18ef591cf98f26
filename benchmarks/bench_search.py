"""Rule search on the demo world: predicted fitness next to realized profit and the oracle gap.

Trains the demand model on the months before the held-out ones, builds
candidate rows (customer x SKU pairs of the held-out months), then compares
plans, each priced within [cost, list price]:

- logged: what the history actually charged (every pair stocked);
- expert: stock what sold, at the usual price, constants fitted to Φ;
- search: the LLM reflection loop from the expert rule (local model by default).

Each plan gets its predicted Φ and profit (demand model) and its realized
profit under the simulator's true demand, and the gap to the oracle plan
(every pair at its truly profit-maximizing price, from a grid between cost
and list price, stocked only where that profit is positive).

    python benchmarks/bench_search.py [--iterations 5] [--preset demo]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import polars as pl

from deeprule.evaluate.experiment import world_tables
from deeprule.evaluate.plans import compare_plans, true_units
from deeprule.llm import LLMClient
from deeprule.llm.factory import make_client
from deeprule.models.dataset import prepare
from deeprule.models.demand import DemandConfig, fit_demand
from deeprule.rules import render_program
from deeprule.search.objective import candidates
from deeprule.search.reflect import SearchConfig, search
from deeprule.search.segments import customer_segments
from deeprule.synth import build_world, resolve_spec
from resources.llm import LLMResource


def client_for(cache_dir: Path) -> LLMClient:
    """The configured model (DEEPRULE_LLM_* as for `make run`), a fresh cache, no token cap;
    time for a grammar compile (180 s)."""
    settings = replace(LLMResource.from_env().settings(), cache_path=str(cache_dir / "c.duckdb"),
                       token_budget=0, timeout_s=180.0)
    return make_client(settings, "rule_proposal")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--iterations", type=int, default=5)
    args = parser.parse_args()
    started = time.perf_counter()
    world = build_world(resolve_spec(args.preset))
    tables = world_tables(world)
    data = prepare(tables, 2, 2)
    fit = fit_demand(data.train, data.valid, data.spec, DemandConfig(beta=0.3))
    cand = candidates(data.test, fit.scorer.response(data.test), tables.shipments,
                      customer_segments(world.customers()))
    print(f"candidates: {cand.height:,} customer x SKU rows of the held-out months; demand model "
          f"trained in {fit.seconds:.1f}s")
    config = SearchConfig(iterations=args.iterations)
    with tempfile.TemporaryDirectory() as tmp:
        search_started = time.perf_counter()
        result = search(client_for(Path(tmp)), cand, config,
                        progress=lambda line: print(f"  ... {line}", flush=True))
        search_seconds = time.perf_counter() - search_started
    iterations = result.table()
    plans = compare_plans(cand, true_units(world, cand), data.test.column("unit_price"),
                          iterations)
    with pl.Config(tbl_rows=-1, float_precision=4, tbl_width_chars=120):
        print(plans)
        print(iterations.select("number", "status", "template", "fitness", "loss",
                                "max_segment_loss", "delta", "completion_tokens", "seconds",
                                "is_best"))
        print(iterations.select("number", "reflection"))
    print(result.segments)
    for entry in result.memory.entries:
        print(f"memory: {entry.line()}")
    print(f"stopped: {result.stopped}")
    print(f"best rule:\n{render_program(result.best)}")
    print(f"search {search_seconds:.0f}s for {len(result.iterations) - 1} iteration(s); total "
          f"{time.perf_counter() - started:.0f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
