"""Where the demand model's share of the oracle gap sits: the expert rule's MILP plan with
the truth swapped in for one part of the forecast at a time, one run.

    python benchmarks/bench_demand_gap.py [--preset demo] [--seeds 4]

For each seed of `pipelines.compare` (world seed = 7 + seed, its demand model and
calibration), the expert rule fitted on the searched rows decides the plan candidates once;
the MILP then plans on:

- the calibrated forecast (what the product plans on);
- the true expected demand (the comparison's diagnostic, "MILP on true demand");
- the truth on the traded pairs only, the forecast on the never-traded ones, and the
  reverse;
- the true level at each pair's usual price with the forecast's price response (price
  shape), which separates a wrong volume from a wrong elasticity.

Each plan is realized under the true demand and set against the constrained oracle. Beside
it, per segment, the forecast's accuracy against the true expected units at the usual price
(sum predicted / sum true, WAPE, correlation of log units). DIAGNOSTIC: the truth is read
here to measure what the model costs, never by a method.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np
import polars as pl
from _expert import ExpertSeed, expert_milp, expert_seed, realized
from _report import print_seeds_and_mean

VARIANTS = ("forecast (the plan)", "true demand", "true demand on traded pairs",
            "true demand on new pairs", "true level, forecast price response")


class Response(Protocol):
    """What the optimizer reads of a forecast: units at a price per row, and a row subset."""

    def units(self, price: np.ndarray) -> np.ndarray: ...

    def take(self, index: np.ndarray) -> Response: ...


class Mixed:
    """Units from `b` on the rows of `use_b`, from `a` elsewhere (the optimizer's response
    interface: `units`, `take`)."""

    def __init__(self, a: Response, b: Response, use_b: np.ndarray) -> None:
        self.a, self.b, self.use_b = a, b, use_b

    def units(self, price: np.ndarray) -> np.ndarray:
        return np.where(self.use_b, self.b.units(price), self.a.units(price))

    def take(self, index: np.ndarray) -> Mixed:
        return Mixed(self.a.take(index), self.b.take(index), self.use_b[index])


class LevelOf:
    """`level`'s units at each row's usual price, moved along `shape`'s price response."""

    def __init__(self, shape: Response, level: Response, usual: np.ndarray) -> None:
        self.shape, self.level, self.usual = shape, level, usual

    def units(self, price: np.ndarray) -> np.ndarray:
        ratio = self.shape.units(price) / np.maximum(self.shape.units(self.usual), 1e-9)
        return self.level.units(self.usual) * ratio

    def take(self, index: np.ndarray) -> LevelOf:
        return LevelOf(self.shape.take(index), self.level.take(index), self.usual[index])


@dataclass(frozen=True)
class Forecasts:
    """The plan candidates' forecast and true demand, which rows were traded, their usual
    prices."""

    model: Response
    truth: Response
    traded: np.ndarray
    usual: np.ndarray

    @staticmethod
    def of(setup: ExpertSeed) -> Forecasts:
        from deeprule.evaluate.compare import TrueDemand

        cand = setup.sw.plan.cand
        return Forecasts(cand.response, TrueDemand(setup.sw.world, cand.rows),
                         cand.columns["hist_units"] > 0, cand.columns["usual_price"])


def responses(f: Forecasts) -> dict[str, tuple[Response, bool]]:
    """Variant -> (response, plan with the calibration's sales tiers); a response that is
    wholly the truth plans its units exactly, as the comparison's diagnostic does."""
    model, truth = f.model, f.truth
    return dict(zip(VARIANTS, ((model, True), (truth, False), (Mixed(model, truth, f.traded), True),
                               (Mixed(model, truth, ~f.traded), True),
                               (LevelOf(model, truth, f.usual), False)), strict=True))


def accuracy(f: Forecasts, seed: int) -> list[dict[str, object]]:
    """Per segment, the forecast against the true expected units at the usual price."""
    pred, true, traded = f.model.units(f.usual), f.truth.units(f.usual), f.traded
    return [{"seed": seed, "pairs": name, "rows": int(mask.sum()),
             "predicted_over_true": float(pred[mask].sum() / true[mask].sum()),
             "wape": float(np.abs(pred[mask] - true[mask]).sum() / true[mask].sum()),
             "log_corr": float(np.corrcoef(np.log(pred[mask] + 0.5),
                                           np.log(true[mask] + 0.5))[0, 1])}
            for name, mask in (("traded", traded), ("never traded", ~traded))]


def measure_seed(preset: str, seed: int) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """(one row per variant, one row per segment) for one seed's world."""
    from deeprule.optimize.candidates import PlanCandidates
    from deeprule.optimize.milp import EXACT

    setup = expert_seed(preset, seed)
    sw, forecasts, out = setup.sw, Forecasts.of(setup), []
    for name, (response, tiered) in responses(forecasts).items():
        plan = PlanCandidates(replace(sw.plan.cand, response=response),
                              sw.plan.tiers if tiered else EXACT)
        out.append({"seed": seed, "plan on": name, **realized(setup, expert_milp(setup, plan))})
    print(f"seed {seed}: " + ", ".join(f"{r['plan on']} {r['share_of_oracle']:.3f}"
                                       for r in out), flush=True)
    return out, accuracy(forecasts, seed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--seeds", type=int, default=4)
    args = parser.parse_args(argv)
    plans, segments = zip(*(measure_seed(args.preset, seed) for seed in range(args.seeds)),
                          strict=True)
    print_seeds_and_mean(pl.DataFrame([r for rows in plans for r in rows]), "plan on", VARIANTS,
                         "seed", f"\npreset={args.preset}: the expert rule's MILP plan, realized "
                         f"under the true demand, planned on the forecast or with the truth "
                         f"swapped in", f"mean over {args.seeds} seeds:")
    print_seeds_and_mean(pl.DataFrame([r for rows in segments for r in rows]), "pairs",
                         ("traded", "never traded"), "seed",
                         "\nthe plan month's forecast (calibrated) against the true expected "
                         "units at the usual price", f"mean over {args.seeds} seeds:")
    return 0


if __name__ == "__main__":
    sys.exit(main())
