"""`make bench`: run every benchmarks/bench_*.py in turn, each printing its own table.

Each benchmark is a separate process so its peak RSS is its own.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("only", nargs="*", help="run just these benchmarks (e.g. bench_rules)")
    args = parser.parse_args(argv)
    scripts = sorted(HERE.glob("bench_*.py"))
    unknown = sorted(set(args.only) - {s.stem for s in scripts})
    if unknown:
        parser.error(f"unknown benchmarks {unknown}; known: {[s.stem for s in scripts]}")
    failures = []
    for script in [s for s in scripts if not args.only or s.stem in args.only]:
        print(f"\n=== {script.name} ===", flush=True)
        started = time.perf_counter()
        code = subprocess.call([sys.executable, str(script)], cwd=HERE.parent)
        print(f"--- {script.name}: exit {code} in {time.perf_counter() - started:.0f}s", flush=True)
        if code:
            failures.append(script.name)
    if failures:
        print(f"benchmarks that failed to run: {failures}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
