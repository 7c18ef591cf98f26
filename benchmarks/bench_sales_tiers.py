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
from _expert import expert_milp, expert_seed, realized
from _report import print_seeds_and_mean

VARIANTS = ("forecast only (EXACT)", "sales tiers (default)")


def measure_seed(preset: str, seed: int) -> list[dict[str, object]]:
    """One row per variant for one seed's world."""
    from deeprule.optimize.milp import EXACT

    setup = expert_seed(preset, seed)
    sw = setup.sw
    out = []
    for name, plan in zip(VARIANTS, (replace(sw.plan, tiers=EXACT), sw.plan), strict=True):
        started = time.perf_counter()
        plans = expert_milp(setup, plan)
        seconds = time.perf_counter() - started
        out.append({"seed": seed, "plan": name, "lines": plans.lines.height,
                    "recommended_units": float(plans.lines["units"].sum()),
                    **realized(setup, plans), "solve_seconds": seconds})
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
