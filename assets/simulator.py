"""The synthetic world's hidden truth. EVALUATION ONLY.

Only assets in the `evaluation` group may depend on these. A learner that
reads them is cheating: `tests/test_definitions.py` checks the declared
dependencies, `tests/test_layers.py` the code (imports, truth calls, table names).
With user data (DEEPRULE_DATA_DIR) there is no truth: the tables are empty.
"""

import time

import dagster as dg
import polars as pl

from assets._metadata import frame_metadata, no_truth
from resources.world import WorldResource

SIMULATOR_GROUP = "simulator"
TRUTH_TABLES = {
    "true_customer_traits": "Latent customer traits: price sensitivity per category, "
    "brand preferences, category scope (current and announced, with its start month), "
    "wanted brands, discount ceiling, loyalty, credit.",
    "true_sku_params": "Per-SKU demand truth: premium regime, elasticities, seasonality.",
    "true_document_facts": "What each raw document states, field by field.",
    "true_policy_locks": "Contractual minimum monthly units of named SKUs per customer.",
}


def _truth_frame(name: str, world: WorldResource) -> pl.DataFrame:
    generated = world.world()
    produce = {
        "true_customer_traits": generated.true_customer_traits,
        "true_sku_params": generated.true_sku_params,
        "true_document_facts": generated.document_facts,
        "true_policy_locks": generated.policy_locks,
    }[name]
    return produce()


def _truth_asset(name: str, description: str) -> dg.AssetsDefinition:
    @dg.asset(
        name=name, group_name=SIMULATOR_GROUP, description=description,
        kinds={"polars", "duckdb"}, pool="duckdb", tags={"evaluation_only": "true"},
    )
    def _asset(context: dg.AssetExecutionContext, world: WorldResource) -> dg.Output[pl.DataFrame]:
        started = time.perf_counter()
        if world.user_folder() is not None:
            context.log.info(f"{name}: user data has no hidden truth; writing nothing")
            return no_truth(pl.DataFrame())
        df = _truth_frame(name, world)
        return dg.Output(df, metadata=frame_metadata(df, time.perf_counter() - started))

    return _asset


truth_tables = [_truth_asset(name, text) for name, text in TRUTH_TABLES.items()]
