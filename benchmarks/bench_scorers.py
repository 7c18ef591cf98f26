"""Scorers: accuracy against truth on held-out months, training time, batch scoring speed.

Trains the demand model, the registered uplift variant, its ablations and the
naive fit on a world preset's raw tables (the last 2 months held out for
test, the 2 before for early stopping), compares each with the simulator's
truth, then times batch scoring of >= 1M candidate rows on the trained demand
model (torch limited to 2 threads, as on a 2-core machine). Targets (demo):
WAPE <= 25%, elasticity rank correlation >= 0.6, uplift beating the naive fit,
>= 1M rows/s; training under 10 min on the paper preset.

    python benchmarks/bench_scorers.py [--preset demo|paper] [--no-ablations]
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import polars as pl

from deeprule.evaluate.experiment import ABLATIONS, NAIVE, Experiment, run_experiment
from deeprule.models.demand import DemandConfig, DemandScorer, fit_demand
from deeprule.models.frames import ScoringFrame
from deeprule.models.uplift import UpliftConfig, fit_uplift
from deeprule.synth import build_world, resolve_spec

SCORING_ROWS = 1_048_576
TARGETS = {"wape": 0.25, "rank": 0.6, "rows_per_second": 1e6, "paper_minutes": 10.0}


def tiled(frame: ScoringFrame, rows: int) -> ScoringFrame:
    """`frame` repeated to `rows` rows (candidate rows for a scoring pass)."""
    index = np.resize(np.arange(frame.height), rows)
    return ScoringFrame(frame.rows[index], frame.high[index], frame.low[index])


def scoring_speed(scorer: DemandScorer, frame: ScoringFrame, repeats: int = 5) -> dict[str, float]:
    """Rows per second: network pass + units at a price, and a price sweep on exported terms.

    The first pass of a process is timed on its own: it pays the allocator's warm-up
    (fresh pages for every batch's activations); the rule search scores every
    iteration in one process, so the repeated passes are its speed.
    """
    big = tiled(frame, SCORING_ROWS)
    prices = big.column("list_price") * 0.95
    network, sweep = [], []
    for _ in range(repeats + 1):
        started = time.perf_counter()
        response = scorer.response(big)
        response.units(prices)
        network.append(time.perf_counter() - started)
        started = time.perf_counter()
        response.units(prices * 1.03)
        sweep.append(time.perf_counter() - started)
    return {"first_pass_rows_per_s": SCORING_ROWS / network[0],
            "network_rows_per_s": SCORING_ROWS / float(np.median(network[1:])),
            "sweep_rows_per_s": SCORING_ROWS / float(np.median(sweep[1:]))}


def train_rows_at(preset: str, shipped_share: float, held_out_months: int = 4) -> int:
    """Training rows of a preset: its customer x SKU slots over the training months."""
    spec = resolve_spec(preset)
    return int(shipped_share * spec.n_customers * spec.skus_per_customer
               * (spec.n_months - held_out_months))


def training_rows_per_s(result: Experiment, rows: int = 524_288) -> dict[str, float]:
    """Training throughput at the batch size a large world gets (16,384 rows), per model.

    One epoch on the training frame tiled to `rows` rows, validation included.
    """
    big, batch = tiled(result.data.train, rows), 16_384
    demand = fit_demand(big, result.data.valid, result.data.spec,
                        DemandConfig(beta=0.3, max_epochs=1, batch_size=batch))
    uplift = fit_uplift(big, result.data.valid, result.data.spec,
                        UpliftConfig(max_epochs=1, batch_size=batch))
    return {"demand": rows / demand.seconds, "uplift": rows / uplift.seconds}


def paper_estimate(result: Experiment, preset: str, main: str) -> str:
    """Paper training time from measured large-batch throughput and this run's epoch counts."""
    spec = resolve_spec(preset)
    total = sum(result.data.sizes().values())
    rows = train_rows_at("paper", total / (spec.n_customers * spec.skus_per_customer
                                           * spec.n_months))
    speed = training_rows_per_s(result)
    config = result.demand.config
    search = len(config.beta_grid) * config.cv_epochs * min(rows, config.cv_rows)
    final = len(result.demand.history) - 1
    uplift_epochs = len(result.uplift[main].history) - 1
    seconds = (search + final * rows) / speed["demand"] + uplift_epochs * rows / speed["uplift"]
    return (f"paper estimate: {rows:,} training rows; measured {speed['demand'] / 1e3:.0f}k "
            f"(demand) / {speed['uplift'] / 1e3:.0f}k (uplift) training rows/s at batch 16,384; "
            f"beta search on {min(rows, config.cv_rows):,} rows, then {final} + {uplift_epochs} "
            f"epochs as here -> {seconds / 60:.1f} min (features and loading not included)")


def print_table(table: pl.DataFrame) -> None:
    print(f"{'model':<38}{'WAPE':>8}{'MAE':>9}{'elast. rank':>13}{'uplift WAPE':>13}"
          f"{'Δnet-rate MAE':>15}")
    for r in table.iter_rows(named=True):
        rate = r["net_rate_delta_mae"]
        print(f"{r['model']:<38}{r['wape']:>8.3f}{r['mae']:>9.2f}"
              f"{r['elasticity_rank_corr']:>13.3f}{r['uplift_wape']:>13.3f}"
              f"{'-' if rate is None else f'{rate:.4f}':>15}")


def verdicts(table: pl.DataFrame, main: str, speed: dict[str, float]) -> list[str]:
    rows = {r["model"]: r for r in table.iter_rows(named=True)}
    demand, uplift, naive = rows["demand"], rows[f"uplift:{main}"], rows["uplift:naive"]
    checks = {
        "demand WAPE <= 25%": demand["wape"] <= TARGETS["wape"],
        "elasticity rank corr >= 0.6 (demand)": demand["elasticity_rank_corr"] >= TARGETS["rank"],
        "elasticity rank corr >= 0.6 (uplift)": uplift["elasticity_rank_corr"] >= TARGETS["rank"],
        "uplift beats naive (rank and uplift WAPE)":
            uplift["elasticity_rank_corr"] > naive["elasticity_rank_corr"]
            and uplift["uplift_wape"] < naive["uplift_wape"],
        "network scoring >= 1M rows/s": speed["network_rows_per_s"] >= TARGETS["rows_per_second"],
    }
    return [f"{name}: {'met' if ok else 'NOT met'}" for name, ok in checks.items()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--no-ablations", action="store_true",
                        help="train only the registered variant and the naive fit")
    args = parser.parse_args()
    started = time.perf_counter()
    world = build_world(resolve_spec(args.preset))
    generated = time.perf_counter() - started
    main_variant = UpliftConfig()
    variants = [main_variant, NAIVE, *([] if args.no_ablations else ABLATIONS)]
    result = run_experiment(world, DemandConfig(), variants,
                            progress=lambda line: print(f"  ... {line}", flush=True))
    sizes = result.data.sizes()
    print(f"scorers, preset {args.preset}: {sizes['train_rows']:,} train / "
          f"{sizes['valid_rows']:,} valid / {sizes['test_rows']:,} test rows; test months "
          f"{', '.join(result.data.split.to_dict()['test'])} (world generated in {generated:.1f}s)")
    print_table(result.table)
    print(f"\n{'step':<48}{'seconds':>9}")
    for step, seconds in result.seconds.items():
        print(f"{step:<48}{seconds:>9.1f}")
    training = sum(v for k, v in result.seconds.items() if k.startswith("train_"))
    main_training = result.seconds["train_demand"] + result.seconds[
        f"train_uplift:{main_variant.variant}"]
    print(f"{'training, all models':<48}{training:>9.1f}")
    print(f"{'training, demand + registered uplift':<48}{main_training:>9.1f}")
    print(f"demand: beta {result.demand.config.beta}, best epoch {result.demand.best_epoch} of "
          f"{len(result.demand.history) - 1}, validation WAPE {result.demand.val_wape:.3f}")
    speed = scoring_speed(result.demand.scorer, result.data.test)
    print(f"batch scoring of {SCORING_ROWS:,} rows: network + units "
          f"{speed['network_rows_per_s'] / 1e6:.2f}M rows/s (first pass of the process "
          f"{speed['first_pass_rows_per_s'] / 1e6:.2f}M); price sweep on exported terms "
          f"{speed['sweep_rows_per_s'] / 1e6:.2f}M rows/s")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB; "
          f"total {time.perf_counter() - started:.0f}s")
    for line in verdicts(result.table, main_variant.variant, speed):
        print(line)
    if args.preset != "paper":
        print(paper_estimate(result, args.preset, main_variant.variant))
    else:
        verdict = "met" if main_training / 60 < TARGETS["paper_minutes"] else "NOT met"
        print(f"paper training (demand + registered uplift) {main_training / 60:.1f} min: "
              f"target < 10 min {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
