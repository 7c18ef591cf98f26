"""How well the new-pair prior ranks and sizes never-traded pairs, variant by variant, one run.

    python benchmarks/bench_pair_prior.py [--preset demo] [--seeds 4] [--base-seed 7]

For each world seed (world seed = base seed + i, as `pipelines.compare` builds them), the
plan month is the first held-out month (the comparison's: 2 validation and 2 test months).
Its never-traded candidate pairs (every customer x launched SKU without a shipment
before the month) are scored by each prior variant (`CalibrationConfig`: its interactions,
launch effect and document lifts; the documents as a perfect extraction states them)
fitted on the shipments before the month, and compared with the true expected units at the
pair's usual price (the scoring frame's r_usual): Spearman rank correlation, the
correlation of log(units + 0.5), and the level (sum of the prior / sum of the truth). The
truth only scores here; the priors never read it.

Next to it, the learner-visible proxy the defaults were chosen on: the validation months'
shipped pairs scored as new (each fold's prior fitted without its pairs, `folds=2`) against
their observed units.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace

import numpy as np
import polars as pl
from _report import print_seeds_and_mean
from scipy.stats import spearmanr

SHIPMENTS_ONLY = {"launch_effect": False, "document_lifts": False}
VARIANTS = {
    "two-way (customer + SKU)": {"prior_interactions": (), **SHIPMENTS_ONLY},
    "+ customer x category": {"prior_interactions": ("primary_category",), **SHIPMENTS_ONLY},
    "+ customer x brand": {"prior_interactions": ("brand",), **SHIPMENTS_ONLY},
    "hierarchical (both)": SHIPMENTS_ONLY,
    "+ launch effect": {"document_lifts": False},
    "+ document lifts (default)": {},
}
"""Prior variant -> `CalibrationConfig` fields it changes; the last is the default."""
TEST_MONTHS, VALIDATION_MONTHS = 2, 2


def log_corr(prior: np.ndarray, truth: np.ndarray) -> float:
    return float(np.corrcoef(np.log(prior + 0.5), np.log(truth + 0.5))[0, 1])


def new_pairs(tables, month) -> tuple[pl.DataFrame, np.ndarray]:
    """The plan month's never-traded candidate rows and their usual prices."""
    from deeprule.models.calibration import usual_price
    from deeprule.models.dataset import choose_split, shipment_months
    from deeprule.models.matrix import fit_spec, scoring_frame
    from deeprule.optimize.candidates import plan_query

    split = choose_split(shipment_months(tables.shipments), VALIDATION_MONTHS, TEST_MONTHS)
    spec = fit_spec(tables, split.train)
    query = plan_query(tables.shipments["customer_id"], tables.skus, month)
    frame = scoring_frame(query, tables, spec)
    new = frame.column("has_history") <= 0
    return frame.rows.filter(new), usual_price(frame)[new]


def measure_seed(preset: str, world_seed: int) -> list[dict[str, object]]:
    """One row per prior variant for one world."""
    from deeprule.evaluate.experiment import world_tables
    from deeprule.models.calibration import CalibrationConfig, pair_prior
    from deeprule.models.dataset import choose_split, shipment_months
    from deeprule.synth import build_world, resolve_spec

    world = build_world(resolve_spec(preset, {"seed": world_seed}))
    tables = world_tables(world, documents=True)
    split = choose_split(shipment_months(tables.shipments), VALIDATION_MONTHS, TEST_MONTHS)
    month = min(split.test)
    rows, usual = new_pairs(tables, month)
    truth = world.expected_units(rows["customer_id"], rows["sku_id"], usual,
                                 rows["month"].to_numpy())
    validation = tables.shipments.filter(pl.col("month").is_in(split.validation))
    observed = validation["units"].to_numpy().astype(np.float64)
    out = []
    for name, fields in VARIANTS.items():
        config = replace(CalibrationConfig(), **fields)
        started = time.perf_counter()
        prior = pair_prior(tables, rows, config)
        seconds = time.perf_counter() - started
        pseudo = pair_prior(tables, validation, config, folds=2)
        out.append({"world_seed": world_seed, "prior": name, "new_pairs": rows.height,
                    "spearman_truth": float(spearmanr(prior, truth).statistic),
                    "log_corr_truth": log_corr(prior, truth),
                    "level_truth": float(prior.sum() / truth.sum()),
                    "spearman_pseudo_new": float(spearmanr(pseudo, observed).statistic),
                    "log_corr_pseudo_new": log_corr(pseudo, observed),
                    "fit_seconds": seconds})
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--base-seed", type=int, default=7, help="world seed of seed 0")
    args = parser.parse_args(argv)
    table = pl.DataFrame([row for i in range(args.seeds)
                          for row in measure_seed(args.preset, args.base_seed + i)])
    print_seeds_and_mean(table, "prior", tuple(VARIANTS), "world_seed",
                         f"\npreset={args.preset}: never-traded candidate pairs of the plan "
                         f"month, prior vs true expected units at the usual price (truth "
                         f"scores only)",
                         f"mean over {args.seeds} world seeds (busy figures for fit_seconds):")
    return 0


if __name__ == "__main__":
    sys.exit(main())
