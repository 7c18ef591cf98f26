"""What recommending past the forecast earns: the expert rule's MILP plan with and without
the sales tiers, on the same world and demand model, one run.

    python benchmarks/bench_sales_tiers.py [--preset demo] [--seeds 4]

For each seed of `pipelines.compare` (world seed = 7 + seed, its demand model and
calibration), the expert rule fitted on the searched rows, then its MILP plan twice: with
the calibration's sales tiers (the default, `CalibrationConfig.tier_bounds`) and with
`EXACT` (recommend the forecast, never beyond). Both are realized under the true demand
and set against the constrained oracle. The truth only scores here.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace

import polars as pl
from _report import print_seeds_and_mean

VARIANTS = ("forecast only (EXACT)", "sales tiers (default)")


def measure_seed(preset: str, seed: int) -> list[dict[str, object]]:
    """One row per variant for one seed's world."""
    from deeprule.evaluate.compare import EXPERT, CompareSettings, seed_world
    from deeprule.evaluate.realized import constrained_oracle, realize
    from deeprule.optimize.milp import EXACT
    from deeprule.optimize.plans import RuleRef, make_plans
    from deeprule.rules import decide, parse_program
    from deeprule.search.objective import RULE_FEATURES
    from deeprule.search.reflect import EXPERT_RULE, SearchConfig, fitted

    settings = CompareSettings(preset=preset)
    sw = seed_world(settings, seed)
    expert, _ = fitted(parse_program(EXPERT_RULE, RULE_FEATURES), sw.search_rows,
                       SearchConfig(fitness=settings.fitness))
    decisions = decide(expert, sw.plan.cand.columns)
    oracle = float(constrained_oracle(sw.world, sw.month, settings.baselines.oracle)
                   .lines["realized_profit"].sum())
    out = []
    for name, plan in zip(VARIANTS, (replace(sw.plan, tiers=EXACT), sw.plan), strict=True):
        started = time.perf_counter()
        plans = make_plans(plan, decisions, sw.codes, sw.history, sw.locks,
                           RuleRef(EXPERT, "bench"), settings.plan, "milp")
        seconds = time.perf_counter() - started
        realized = realize(sw.world, plans.lines)
        profit = float(realized["realized_profit"].sum())
        out.append({"seed": seed, "plan": name, "lines": realized.height,
                    "recommended_units": float(realized["units"].sum()),
                    "realized_profit_m": profit / 1e6, "share_of_oracle": profit / oracle,
                    "violating_customers": int((plans.customers["violations"] > 0).sum()),
                    "solve_seconds": seconds})
    print(f"seed {seed}: tiers {sw.plan.tiers.describe()}", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--seeds", type=int, default=4)
    args = parser.parse_args(argv)
    table = pl.DataFrame([row for seed in range(args.seeds)
                          for row in measure_seed(args.preset, seed)])
    print_seeds_and_mean(table, "plan", VARIANTS, "seed",
                         f"\npreset={args.preset}: the expert rule's MILP plan realized under "
                         f"the true demand, with and without recommending past the forecast",
                         f"mean over {args.seeds} seeds:")
    return 0


if __name__ == "__main__":
    sys.exit(main())
