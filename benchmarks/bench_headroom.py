"""Headroom of the synthetic world: what the logged policy leaves on the table, under truth.

    python benchmarks/bench_headroom.py [--presets demo paper] [--month -1] [--workers 2]
        [--overrides '{"skus_per_customer": 60}']  # the paper's shipment count

For a held-out month (default: the last) of each preset, under the true demand,
per customer with history and exact under the paper's hard constraints:
logged policy; best prices on the traded pairs; the constrained oracle (a
per-customer MILP over the whole catalogue, deeprule/evaluate/oracle.py); the
same oracle restricted to the categories and brands the shipments reveal.
Targets (issue 11): oracle >= 1.25 x logged; price-only captures <= 60% of the
oracle's gain; (oracle - revealed) >= 5% of logged.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from collections import Counter

import polars as pl


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(preset: str, month_offset: int, workers: int, overrides: dict) -> bool:
    """Print the four plans and the targets for one preset; True if every target is met."""
    from deeprule.evaluate.headroom import measure_headroom
    from deeprule.evaluate.oracle import OracleConfig
    from deeprule.optimize import PlanConstraints
    from deeprule.synth import build_world, resolve_spec

    started = time.perf_counter()
    world = build_world(resolve_spec(preset, overrides))
    month = world.spec.months[month_offset]
    config = OracleConfig(constraints=PlanConstraints(workers=workers))
    headroom = measure_headroom(world, month, config)
    seconds = time.perf_counter() - started
    oracle, revealed = headroom.oracle, headroom.revealed
    spec = world.spec
    print(f"\npreset={preset} {overrides or ''}: {spec.n_customers:,} customers x "
          f"{spec.n_skus} SKUs, held-out month {month.isoformat()}, cpus={os.cpu_count()}")
    with pl.Config(tbl_rows=10, tbl_width_chars=120, float_precision=3,
                   tbl_hide_dataframe_shape=True, tbl_hide_column_data_types=True):
        print(headroom.table())
        checks = headroom.checks()
        print(checks)
    for name, result in (("oracle", oracle), ("revealed", revealed)):
        per = len(result.options) / max(len(result.customers), 1)
        print(f"{name}: {len(result.customers):,} MILPs, {per:,.0f} price options per customer "
              f"before pair pruning, status {dict(Counter(result.status))}")
    print(f"time {seconds:.1f} s (world, history, grid, both oracles; {workers} worker(s)), "
          f"peak RSS {peak_rss_mib():,.0f} MiB (this process)")
    met = bool(checks["met"].all())
    print(f"targets: {'PASS' if met else 'MISS'}")
    return met


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["demo", "paper"])
    parser.add_argument("--month", type=int, default=-1, help="index into the world's months")
    parser.add_argument("--workers", type=int, default=2, help="processes solving the MILPs")
    parser.add_argument("--overrides", default="", help="JSON object of WorldSpec overrides")
    args = parser.parse_args(argv)
    overrides = json.loads(args.overrides) if args.overrides else {}
    results = [measure(preset, args.month, args.workers, overrides) for preset in args.presets]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
