"""What the scorer, search and evaluation assets share: the source tables, the registered
demand model on its card and the held-out months it never trained on.

Private to the asset modules; none of it reads the simulator's truth.
"""

import json

import dagster as dg
import polars as pl
from dagster_duckdb import DuckDBResource

from assets._tables import read_table_or_none
from deeprule.models import registry
from deeprule.models.calibration import CalibrationConfig, validation_calibration
from deeprule.models.demand import DemandScorer
from deeprule.models.frames import ScoringFrame, SourceTables
from deeprule.models.matrix import training_frame
from deeprule.models.split import TimeSplit
from deeprule.optimize.candidates import search_candidates
from deeprule.search.objective import Candidates
from resources.mlflow import MlflowResource

SOURCES = ("shipments", "skus", "customer_features", "sku_features",
           "customer_category_features")
"""Tables the scorers read, by name (SourceTables fields); declared as deps for lineage."""
OPTIONAL_SOURCES = {"customer_priors": "customer_priors_by_month"}
"""SourceTables field -> table, read when materialized: without them the model has no
document features (as `store_affiliation` falls back to the neutral prior). The priors
are the point-in-time snapshots, so a month's features read only earlier documents."""
SOURCE_DEPS = [dg.AssetKey(name) for name in (*SOURCES, *OPTIONAL_SOURCES.values())]


def sources(duckdb: DuckDBResource) -> SourceTables:
    """The raw, `features` and priors tables a scorer reads (never simulator truth)."""
    tables = {name: read_table_or_none(duckdb, name) for name in SOURCES}
    missing = [name for name, table in tables.items() if table is None]
    if missing:
        raise ValueError(f"scorer inputs not materialized yet: {missing} (run the raw and "
                         "features assets first)")
    optional = {field: read_table_or_none(duckdb, table)
                for field, table in OPTIONAL_SOURCES.items()}
    return SourceTables(**tables, **optional)


def _registered(card: pl.DataFrame) -> registry.ModelRef:
    """The registered model on a card (the row with a version)."""
    row = card.filter(pl.col("version").is_not_null()).row(0, named=True)
    return registry.ModelRef("", row["model_name"], str(row["version"]))


def registered_demand(mlflow: MlflowResource, demand_model: pl.DataFrame
                      ) -> tuple[registry.ModelRef, DemandScorer, TimeSplit]:
    """The registered demand scorer on the card and the split it was trained on."""
    ref = _registered(demand_model)
    split = TimeSplit.from_dict(json.loads(demand_model["split"][0]))
    return ref, registry.load_demand(mlflow.client(), ref), split


def held_out_frame(duckdb: DuckDBResource, scorer: DemandScorer, split: TimeSplit,
                   tables: SourceTables | None = None) -> ScoringFrame:
    """The split's test months only: all that evaluation and planning read (assembling the
    training months as well was most of their time at paper scale)."""
    frame = training_frame(tables or sources(duckdb), scorer.spec, split.test)
    if not frame.height:
        raise ValueError("the demand model was trained without test months: nothing held out")
    return frame


def held_out_candidates(mlflow: MlflowResource, duckdb: DuckDBResource,
                        demand_model: pl.DataFrame
                        ) -> tuple[registry.ModelRef, ScoringFrame, Candidates]:
    """The registered model's reference, its held-out rows and their candidates, each
    labeled with its customer's segment (type x scale band, from `customer_features`), their
    predictions calibrated as the plans' are by default (docs/plans.md)."""
    ref, scorer, split = registered_demand(mlflow, demand_model)
    tables = sources(duckdb)
    test = held_out_frame(duckdb, scorer, split, tables)
    fitted = validation_calibration(tables, scorer, split.validation, CalibrationConfig())
    return ref, test, search_candidates(tables, scorer, test, fitted, tables.customer_features)
