"""Store -> customer affiliation at the paper's size: k-d tree search vs the all-pairs reference.

Locations, scales and store profiles come from the `paper` world preset
(100,000 stores x 2,362 customers); every customer has the neutral prior, as
before the LLM priors exist. The input is generated in a child process and
saved; each method then runs in a child of its own on it, so the parent stays
small and each peak RSS is the method's own. Both must give the same alpha and
pairs. Target: the tree under 10 s on 2 cores and at least 50x the reference.

    python benchmarks/bench_affiliation.py [--preset paper] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from deeprule.geo.affiliation import AffiliationInputs, AffiliationParams, TreeSearch, affiliate
from deeprule.geo.reference import BruteForceSearch

METHODS = {"tree": TreeSearch, "brute": BruteForceSearch}
LABELS = {"tree": "k-d tree (deeprule.geo)", "brute": "all-pairs numpy reference"}


def save_inputs(preset: str, path: Path) -> None:
    """Generate the preset's stores and customers, save the arrays, print sizes and time."""
    from deeprule.features.demographics import affiliation_inputs
    from deeprule.synth import build_world, resolve_spec

    started = time.perf_counter()
    world = build_world(resolve_spec(preset))
    inputs, _ = affiliation_inputs(world.stores(), world.customers(), None)
    np.savez(path, **vars(inputs))
    print(json.dumps({"stores": inputs.n_stores, "customers": inputs.n_customers,
                      "seconds": time.perf_counter() - started}))


def worker(method: str, path: Path, repeats: int) -> None:
    """Run one method on the saved input; print its result as one JSON line."""
    with np.load(path) as data:
        inputs = AffiliationInputs(**{k: data[k] for k in data.files})
    params = AffiliationParams()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        result = affiliate(inputs, params, search=METHODS[method]())
        times.append(time.perf_counter() - started)
    print(json.dumps({
        "seconds": float(np.median(times)),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "alpha": result.alpha,
        "pairs": int(result.pairs.store.size),
        "pair_checksum": int((result.pairs.store * 7919 + result.pairs.customer).sum()),
        "covered": float(result.covered_stores().mean()),
    }))


def run(*args: str) -> dict:
    """This script in a child process; its last output line, parsed."""
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--preset", default="paper")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of the tree search")
    parser.add_argument("--worker", choices=[*sorted(METHODS), "generate"],
                        help=argparse.SUPPRESS)
    parser.add_argument("--input", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker == "generate":
        save_inputs(args.preset, args.input)
        return 0
    if args.worker:
        worker(args.worker, args.input, args.repeats)
        return 0
    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "inputs.npz")
        made = run("--worker", "generate", "--preset", args.preset, "--input", path)
        results = {
            "tree": run("--worker", "tree", "--input", path, "--repeats", str(args.repeats)),
            "brute": run("--worker", "brute", "--input", path, "--repeats", "1"),
        }
    tree, brute = results["tree"], results["brute"]
    same = (tree["pairs"] == brute["pairs"] and tree["pair_checksum"] == brute["pair_checksum"]
            and abs(tree["alpha"] - brute["alpha"]) <= 1e-12 * brute["alpha"])
    ratio = brute["seconds"] / tree["seconds"]
    print(f"affiliation, preset {args.preset}: {made['stores']:,} stores x "
          f"{made['customers']:,} customers (inputs generated in {made['seconds']:.1f}s)")
    print(f"{'method':<28}{'seconds':>9}{'peak RSS MiB':>14}{'alpha km/unit':>15}"
          f"{'pairs':>11}{'covered':>9}")
    for method, r in results.items():
        print(f"{LABELS[method]:<28}{r['seconds']:>9.2f}{r['peak_rss_mib']:>14.0f}"
              f"{r['alpha']:>15.4f}{r['pairs']:>11,}{r['covered']:>9.1%}")
    verdict = "met" if tree["seconds"] < 10 and ratio >= 50 else "NOT met"
    print(f"speed-up {ratio:.1f}x; identical result: {same}; "
          f"target (< 10 s and >= 50x) {verdict}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
