"""Rule evaluation speed: the vectorized IR against the same rule as plain Python per row.

The rule searchers evaluate every proposed rule on every candidate row, every
iteration, so `decide` must run on whole columns. Prints rows/s for parsing,
vectorized evaluation on 1M rows, one constant fit, and a row-by-row Python
reference on a sample (the comparison in the same run).

    python benchmarks/bench_rules.py [--rows 1048576]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from deeprule.rules import complexity, decide, fit_constants, parse_program

RULE = '''
def stock(row):
    share = row["cat_share"] * 2.0
    if row.sensitivity > 0.7:
        return share > 0.3 and row.margin > 0.1
    return share > 0.1

def price(row):
    base = max(row.cost * 1.1, row.list_price * (1 - 0.05 * row.loyalty))
    return clip(base * (1.0 - 0.1 * sigmoid(row.sensitivity - 0.5)), row.cost, row.list_price)
'''
FEATURES = ("cost", "list_price", "cat_share", "sensitivity", "loyalty", "margin")


def columns(rows: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    cost = rng.uniform(1, 10, rows)
    list_price = cost * rng.uniform(1.1, 1.6, rows)
    return {"cost": cost, "list_price": list_price, "cat_share": rng.uniform(0, 0.5, rows),
            "sensitivity": rng.uniform(0, 1, rows), "loyalty": rng.uniform(0, 1, rows),
            "margin": 1 - cost / list_price}


def python_rule(row: dict[str, float]) -> tuple[bool, float]:
    """RULE written as ordinary Python: what a row-by-row interpreter would cost at best."""
    share = row["cat_share"] * 2.0
    stock = (share > 0.3 and row["margin"] > 0.1) if row["sensitivity"] > 0.7 else share > 0.1
    base = max(row["cost"] * 1.1, row["list_price"] * (1 - 0.05 * row["loyalty"]))
    squash = 0.5 * (1.0 + math.tanh(0.5 * (row["sensitivity"] - 0.5)))
    return stock, min(max(base * (1.0 - 0.1 * squash), row["cost"]), row["list_price"])


def timed(fn, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return float(np.median(times))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_048_576)
    parser.add_argument("--python-rows", type=int, default=50_000)
    args = parser.parse_args()
    program = parse_program(RULE, FEATURES)
    cols = columns(args.rows)
    sample = {k: v[:args.python_rows] for k, v in cols.items()}
    parse_s = timed(lambda: parse_program(RULE, FEATURES), repeats=20)
    vector_s = timed(lambda: decide(program, cols))
    python_s = timed(lambda: [python_rule({k: v[i] for k, v in sample.items()})
                              for i in range(args.python_rows)], repeats=1)
    target = cols["list_price"] * 0.95

    fit_rows = min(100_000, args.rows)

    def loss(d) -> float:
        """Relative price error where stocked, plus a unit penalty per unstocked row."""
        error = np.where(d.stock, (d.price - target[:fit_rows]) / target[:fit_rows], 0.0)
        return float(np.mean(error ** 2) + np.mean(~d.stock))

    fit_cols = {k: v[:fit_rows] for k, v in cols.items()}
    fit = fit_constants(program, fit_cols, loss, max_evaluations=200)
    vector_rate, python_rate = args.rows / vector_s, args.python_rows / python_s
    print(f"rule: {len(program.constants)} constants, complexity "
          f"{sum(complexity(n) for n in program.functions.values())}")
    print(f"{'step':<44}{'rows':>12}{'seconds':>10}{'rows/s':>14}")
    print(f"{'parse + validate (per rule)':<44}{'-':>12}{parse_s:>10.5f}{'-':>14}")
    print(f"{'decide, vectorized IR':<44}{args.rows:>12,}{vector_s:>10.3f}{vector_rate:>14,.0f}")
    print(f"{'same rule, plain Python per row':<44}{args.python_rows:>12,}{python_s:>10.3f}"
          f"{python_rate:>14,.0f}")
    print(f"{'fit constants (Powell, 200 evaluations max)':<44}{fit_rows:>12,}"
          f"{fit.seconds:>10.2f}{fit.evaluations * fit_rows / fit.seconds:>14,.0f}")
    decided = decide(program, sample)
    reference = [python_rule({k: v[i] for k, v in sample.items()})
                 for i in range(args.python_rows)]
    same = (decided.stock.tolist() == [r[0] for r in reference]
            and np.allclose(decided.price[decided.stock],
                            [r[1] for r in reference if r[0]]))
    print(f"identical decisions on the sample: {same}")
    print(f"speed-up of the vectorized IR over per-row Python: {vector_rate / python_rate:.0f}x; "
          f"fit: loss {fit.loss_before:.4f} -> {fit.loss_after:.4f} in {fit.evaluations} "
          "evaluations")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
