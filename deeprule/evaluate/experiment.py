"""Train both scorers on a synthetic world and compare them with its truth (no Dagster).

The benchmark and the slow tests use this; the assets do the same steps with
MLflow tracking in between. Only raw tables are used (no `features` group), so
it runs on any preset without the embedding model.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import polars as pl

from deeprule.evaluate.extraction import perfect_extractions, stated_facts
from deeprule.evaluate.scorers import assess, comparison_table, truth_for
from deeprule.models.dataset import ScorerData, prepare
from deeprule.models.demand import DemandConfig, DemandFit, fit_demand
from deeprule.models.frames import SourceTables
from deeprule.models.uplift import UpliftConfig, UpliftFit, ablation_grid, fit_uplift
from deeprule.priors.aggregate import priors_by_month
from deeprule.synth import World

NAIVE, *ABLATIONS = ablation_grid()


@dataclass
class Experiment:
    """What was trained, how long each step took, and the comparison with truth."""

    data: ScorerData
    demand: DemandFit
    uplift: dict[str, UpliftFit]
    table: pl.DataFrame
    seconds: dict[str, float] = field(default_factory=dict)


def world_tables(world: World, documents: bool = False) -> SourceTables:
    """Every month of shipments plus the SKU table, as a learner may read them; with
    `documents`, the customer priors a perfect extraction of the world's documents gives
    (what they truly state: an upper bound on what the LLM's reading brings), snapshotted
    where documents change them (`priors_by_month`: a month never reads a later document)."""
    tables = SourceTables(pl.concat([world.shipments(m) for m in world.spec.months]),
                          world.skus())
    if not documents:
        return tables
    docs = world.documents()
    priors = priors_by_month(world.customers()["customer_id"].to_list(),
                             perfect_extractions(docs), stated_facts(docs, world.document_facts()))
    return replace(tables, customer_priors=priors)


def run_experiment(world: World, demand: DemandConfig, uplift: list[UpliftConfig],
                   validation_months: int = 2, test_months: int = 2,
                   progress: Callable[[str], None] = lambda _: None,
                   tables: SourceTables | None = None) -> Experiment:
    """Prepare, train the demand model and each uplift variant, assess on the test months.

    `progress` hears about each finished step (long runs at paper scale); `tables`
    (default: `world_tables(world)`) is what the learners read.
    """
    seconds: dict[str, float] = {}

    def done(step: str, value: float) -> None:
        seconds[step] = value
        progress(f"{step}: {value:.1f}s")

    started = time.perf_counter()
    tables = tables or world_tables(world)
    done("load", time.perf_counter() - started)
    started = time.perf_counter()
    data = prepare(tables, validation_months, test_months)
    done("features", time.perf_counter() - started)
    demand_fit = fit_demand(data.train, data.valid, data.spec, demand)
    done("train_demand", demand_fit.seconds)
    fits = {}
    for config in uplift:
        fits[config.variant] = fit_uplift(data.train, data.valid, data.spec, config)
        done(f"train_uplift:{config.variant}", fits[config.variant].seconds)
    truth = truth_for(world, data.test)
    rows = [assess("demand", data.test, demand_fit.scorer.response(data.test), truth)]
    for variant, fit in fits.items():
        units, rate = fit.scorer.responses(data.test)
        rows.append(assess(f"uplift:{variant}", data.test, units, truth, rate))
    return Experiment(data, demand_fit, fits, comparison_table(rows), seconds)
