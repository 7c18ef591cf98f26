"""What the document features are worth to the demand model: held-out accuracy with and without.

The demand model is trained on a world preset's raw tables plus `customer_priors_by_month`
(each month's snapshot from the documents dated before it),
then trained again with the same settings (beta chosen by the first fit) without the
document features (deeprule/features/documents.py); both are compared with the
simulator's truth on the same held-out months. The priors come from what the
documents truly state, i.e. a perfect extraction: an upper bound on what the LLM's
extraction can bring (`make run` records the same comparison on its own extraction,
in `scorers_vs_truth`'s metadata).

    python benchmarks/bench_document_features.py [--preset demo|paper]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import polars as pl

from deeprule.evaluate.experiment import world_tables
from deeprule.evaluate.extraction import perfect_extractions, stated_facts
from deeprule.evaluate.scorers import document_ablation
from deeprule.features.documents import document_inputs
from deeprule.models.dataset import prepare
from deeprule.models.demand import DemandConfig, fit_demand
from deeprule.priors.aggregate import priors_by_month
from deeprule.synth import build_world, resolve_spec


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="demo")
    args = parser.parse_args()
    world = build_world(resolve_spec(args.preset))
    documents = world.documents()
    facts = stated_facts(documents, world.document_facts())
    priors = priors_by_month(world.customers()["customer_id"].to_list(),
                             perfect_extractions(documents), facts)
    tables = replace(world_tables(world), customer_priors=priors)
    started = time.perf_counter()
    data = prepare(tables, 2, 2)
    fit = fit_demand(data.train, data.valid, data.spec, DemandConfig())
    with_seconds = time.perf_counter() - started
    print(f"{args.preset}: {documents.height} documents, {facts.height} stated facts; "
          f"document features {document_inputs(data.spec.high_columns)}")
    table, without_seconds = document_ablation(world, tables, data.split, fit.config,
                                               fit.scorer)
    with pl.Config(tbl_rows=10, tbl_cols=10, tbl_width_chars=220, float_precision=4,
                   fmt_str_lengths=40):
        print(table.drop("net_rate_delta_mae", "uplift_wape"))
    print(f"features + fit with documents {with_seconds:.1f}s (beta {fit.config.beta}); "
          f"features + fit without {without_seconds:.1f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
