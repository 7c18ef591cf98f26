"""Time and peak memory to generate a synthetic world, stage by stage.

    python benchmarks/bench_synth.py [--preset paper] [--overrides '{"seed": 3}']

Stages: entities (customers, stores, SKUs, catchments, demand truth),
documents (texts and their facts), shipments (every month, all kept in memory
as a conservative upper bound on what a caller might hold), expenses (every
month; each regenerates its month's shipments, as the asset does). Target for the
paper preset: under 120 s and 4 GiB on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

TARGET_SECONDS = 120.0
TARGET_RSS_MIB = 4096.0


@dataclass(frozen=True)
class Stage:
    name: str
    rows: int
    seconds: float
    peak_rss_mib: float


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def timed(name: str, run: Callable[[], int]) -> Stage:
    started = time.perf_counter()
    rows = run()
    return Stage(name, rows, time.perf_counter() - started, peak_rss_mib())


def run(preset: str, overrides: dict) -> list[Stage]:
    """Generate the world once, measuring each stage."""
    holder: dict = {}

    def load() -> int:
        from deeprule.synth import build_world, resolve_spec

        holder["build"], holder["spec"] = build_world, resolve_spec(preset, overrides)
        return 0

    def entities() -> int:
        world = holder["world"] = holder["build"](holder["spec"])
        return world.customers().height + world.stores().height + world.skus().height

    def documents() -> int:
        return holder["world"].documents().height + holder["world"].document_facts().height

    def shipments() -> int:
        world = holder["world"]
        holder["months"] = [world.shipments(m) for m in world.spec.months]
        return sum(frame.height for frame in holder["months"])

    def expenses() -> int:
        world = holder["world"]
        return sum(world.expenses(m).height for m in world.spec.months)

    return [timed("import", load), timed("entities", entities),
            timed("documents", documents), timed("shipments", shipments),
            timed("expenses", expenses)]


def report(preset: str, stages: list[Stage]) -> bool:
    """Print the table and the verdict; True if both targets are met."""
    total_rows = sum(s.rows for s in stages)
    total_seconds = sum(s.seconds for s in stages)
    peak = max(s.peak_rss_mib for s in stages)
    rows = [(s.name, s.rows, s.seconds, s.peak_rss_mib) for s in stages]
    rows.append(("total", total_rows, total_seconds, peak))
    print(f"synthetic world benchmark: preset={preset}, cpus={os.cpu_count()}")
    print(f"{'stage':<10} {'rows':>12} {'seconds':>9} {'rows/s':>12} {'peak RSS MiB':>13}")
    for name, n, seconds, rss in rows:
        rate = f"{n / seconds:,.0f}" if n and seconds > 0 else "-"
        print(f"{name:<10} {n:>12,} {seconds:>9.2f} {rate:>12} {rss:>13.0f}")
    ok = total_seconds < TARGET_SECONDS and peak < TARGET_RSS_MIB
    print(f"target: < {TARGET_SECONDS:.0f} s and < {TARGET_RSS_MIB:.0f} MiB -> "
          f"{total_seconds:.1f} s, {peak:.0f} MiB: {'PASS' if ok else 'MISS'}")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="paper", help="tiny, demo or paper (default paper)")
    parser.add_argument("--overrides", default="", help="JSON object of WorldSpec overrides")
    args = parser.parse_args(argv)
    overrides = json.loads(args.overrides) if args.overrides else {}
    return 0 if report(args.preset, run(args.preset, overrides)) else 1


if __name__ == "__main__":
    sys.exit(main())
