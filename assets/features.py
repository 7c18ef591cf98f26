"""Feature engine: store affiliation, customer demographics g_k, temporal customer
features with stored standardization, and SKU representations.

The math lives in deeprule/geo and deeprule/features, the heavy aggregations in
deeprule/features/sql/features_*.sql; docs/features.md documents every rule and constant.
"""

import json
import time

import dagster as dg
import polars as pl
from dagster_duckdb import DuckDBResource
from pydantic import Field

from assets._metadata import frame_metadata
from assets._plots import plot_metadata
from assets._tables import read_table_or_none
from assets.partitions import monthly_partitions
from deeprule.features import customer, standardize
from deeprule.features.demographics import build_affiliation, customer_demographics
from deeprule.features.embedding import TextEncoder, embed_through_cache
from deeprule.features.sku import SkuParams, texts_to_embed
from deeprule.features.sku import sku_features as build_sku_features
from deeprule.features.temporal import (
    TemporalParams,
    category_temporal,
    customer_temporal,
    monthly_sales,
)
from deeprule.geo.affiliation import AffiliationParams
from deeprule.plots import affiliation_map

GROUP = "features"
PRIORS = dg.AssetKey("customer_priors")
CUSTOMER_KEYS = ("customer_id",)
CATEGORY_KEYS = ("customer_id", "primary_category")



class AffiliationConfig(dg.Config):
    """Constants of the affiliation (docs/features.md, "Affiliation")."""

    coverage_target: float = Field(
        default=0.85, description="Share of stores alpha must bring inside some radius.")
    theta: float = Field(default=0.6, description="Prior-store similarity for exclusivity.")
    min_distance_km: float = Field(
        default=0.05, description="Distance floor in the s/d^2 weights.")
    alpha: float | None = Field(
        default=None, description="Fixed radius factor (km per unit of scale); None = estimate.")


@dg.multi_asset(
    outs={
        "store_affiliation": dg.AssetOut(
            kinds={"polars", "duckdb"},
            description="Store -> customer pairs within r_k = alpha * s_k with distance, prior "
            "similarity, exclusivity and weight w_jk; uncovered stores as rows with "
            "customer_id null and covered = false.",
        ),
        "customer_demographics": dg.AssetOut(
            kinds={"polars", "duckdb", "sql"},
            description="Aggregated demographics g_k = sum_j w_jk q_j per customer, weighted "
            "means and coverage counts; storeless customers flagged.",
        ),
    },
    deps=[PRIORS], group_name=GROUP, pool="duckdb",
)
def store_affiliation(
    context: dg.AssetExecutionContext, config: AffiliationConfig, customers: pl.DataFrame,
    stores: pl.DataFrame, duckdb: DuckDBResource,
):
    """Affiliation and g_k; the LLM priors are read if materialized, else the neutral prior."""
    started = time.perf_counter()
    params = AffiliationParams(coverage_target=config.coverage_target, theta=config.theta,
                               min_distance_km=config.min_distance_km, alpha=config.alpha)
    priors = read_table_or_none(duckdb, PRIORS.path[-1])
    if priors is None:
        context.log.warning("customer_priors not materialized: every customer gets the "
                            "neutral prior (no exclusive stores)")
    table, summary = build_affiliation(stores, customers, priors, params)
    affiliation_seconds = time.perf_counter() - started
    yield dg.Output(table, output_name="store_affiliation", metadata=frame_metadata(
        table, affiliation_seconds, **summary.as_metadata(),
        priors_source="customer_priors" if priors is not None else "neutral prior (missing)",
        map=_map(table, stores, customers, summary.alpha),
    ))
    started = time.perf_counter()
    demographics = customer_demographics(table, stores, customers, summary.alpha)
    yield dg.Output(demographics, output_name="customer_demographics", metadata=frame_metadata(
        demographics, time.perf_counter() - started, alpha=round(summary.alpha, 6),
        customers_without_stores=int(demographics["storeless"].sum()),
    ))


@dg.asset(
    group_name=GROUP, kinds={"polars", "duckdb", "sql"}, pool="duckdb",
    partitions_def=monthly_partitions, metadata={"partition_expr": "month"},
    deps=[dg.AssetKey("shipments"), dg.AssetKey("skus")],
    description="One month's units and revenue per customer x primary category "
    "(deeprule/features/sql/features_monthly_sales.sql); a new month adds one partition, "
    "nothing else.",
)
def customer_monthly_sales(
    context: dg.AssetExecutionContext, duckdb: DuckDBResource
) -> dg.Output[pl.DataFrame]:
    started = time.perf_counter()
    month = context.partition_time_window.start.date()
    with duckdb.get_connection() as conn:
        df = monthly_sales(conn, month)
    return dg.Output(df, metadata=frame_metadata(df, time.perf_counter() - started,
                                                 month=month.isoformat()))


def _map(table: pl.DataFrame, stores: pl.DataFrame, customers: pl.DataFrame,
         alpha: float) -> dg.MetadataValue:
    covered = stores["store_id"].is_in(
        table.filter(pl.col("covered"))["store_id"].implode()).to_numpy()
    radius = alpha * customers["business_scale"].fill_null(0.0).fill_nan(0.0).to_numpy()
    return plot_metadata(affiliation_map(stores, covered, customers, radius),
                         "Stores, customers and radii r_k = alpha * s_k")


class CustomerFeatureConfig(dg.Config):
    """Temporal feature and standardization settings (docs/features.md)."""

    window: int = Field(default=3, description="Rolling window W in months.")
    fourier_k: int = Field(default=3, description="Fourier peaks kept per series.")
    refit_growth: float = Field(
        default=0.25, description="Refit the z-score parameters once the observations grew "
        "by this fraction since the stored fit (the paper's N_update).")


@dg.multi_asset(
    outs={
        "customer_features": dg.AssetOut(
            kinds={"polars", "duckdb"},
            description="customer_id + standardized Float64 features f_k (raw attributes, "
            "g_k, temporal statistics); no nulls.",
        ),
        "customer_category_features": dg.AssetOut(
            kinds={"polars", "duckdb"},
            description="customer_id, primary_category + standardized Float64 temporal "
            "features of every customer x category pair; no nulls.",
        ),
        "feature_standardization": dg.AssetOut(
            kinds={"polars", "duckdb"},
            description="feature, mean, std (+ source_table, n_observations): the z-score "
            "parameters both feature tables were standardized with.",
        ),
    },
    group_name=GROUP, pool="duckdb",
)
def customer_features(
    context: dg.AssetExecutionContext, config: CustomerFeatureConfig,
    customers: pl.DataFrame, customer_demographics: pl.DataFrame,
    customer_monthly_sales: pl.DataFrame, skus: pl.DataFrame, duckdb: DuckDBResource,
):
    """Raw features -> stored (or refit) z-score parameters -> standardized tables."""
    started = time.perf_counter()
    params = TemporalParams(window=config.window, fourier_k=config.fourier_k)
    ids = customers["customer_id"].to_list()
    categories = skus["primary_category"].unique().to_list()
    raw = customer.assemble(customers, customer_demographics,
                            customer_temporal(customer_monthly_sales, ids, params))
    raw_cat = category_temporal(customer_monthly_sales, ids, categories, params)
    n_obs = customer_monthly_sales.height
    fresh = pl.concat([
        standardize.fit(raw, CUSTOMER_KEYS, "customer_features", n_obs),
        standardize.fit(raw_cat, CATEGORY_KEYS, "customer_category_features", n_obs),
    ])
    stats, decision = standardize.choose(read_table_or_none(duckdb, "feature_standardization"),
                                         fresh, config.refit_growth)
    context.log.info(f"standardization {decision}")
    by_table = stats.partition_by("source_table", as_dict=True)
    features = standardize.apply(raw, CUSTOMER_KEYS, by_table[("customer_features",)])
    cat = standardize.apply(raw_cat, CATEGORY_KEYS, by_table[("customer_category_features",)])
    seconds = time.perf_counter() - started
    months = customer_monthly_sales["month"]
    shared = {"standardization": decision, "window": config.window,
              "fourier_k": config.fourier_k, "n_months": months.n_unique(),
              "last_month": str(months.max()) if months.len() else "none"}
    yield dg.Output(features.frame, output_name="customer_features", metadata=frame_metadata(
        features.frame, seconds, **shared, n_features=features.frame.width - 1,
        imputed=json.dumps(features.imputed), imputed_values=sum(features.imputed.values()),
    ))
    yield dg.Output(cat.frame, output_name="customer_category_features", metadata=frame_metadata(
        cat.frame, seconds, **shared, n_features=cat.frame.width - 2,
        imputed_values=sum(cat.imputed.values()),
    ))
    yield dg.Output(stats, output_name="feature_standardization",
                    metadata=frame_metadata(stats, seconds, standardization=decision))


class SkuFeatureConfig(dg.Config):
    """Sizes of the SKU representation (docs/features.md, "SKU features")."""

    style_dims: int = Field(default=8, description="PCA components of the style embedding.")
    onehot_max_levels: int = Field(
        default=12, description="Text attributes with at most this many levels are one-hot.")
    sparse_dims: int = Field(
        default=4, description="PCA components per embedded high-cardinality attribute.")


@dg.asset(
    group_name=GROUP, kinds={"polars", "duckdb", "pytorch"}, pool="duckdb",
    description="sku_id + Float64 representation [style PCA; dense z-scores; sparse one-hot "
    "or embedded]. Embeddings are cached in DuckDB by model and text hash.",
)
def sku_features(
    config: SkuFeatureConfig, skus: pl.DataFrame, duckdb: DuckDBResource,
    sku_embedder: dg.ResourceParam[TextEncoder],
) -> dg.Output[pl.DataFrame]:
    """Only texts never embedded before reach the model (none: the model is not even loaded)."""
    started = time.perf_counter()
    params = SkuParams(style_dims=config.style_dims, onehot_max_levels=config.onehot_max_levels,
                       sparse_dims=config.sparse_dims)
    texts = texts_to_embed(skus, params)
    matrix, fresh = embed_through_cache(duckdb.get_connection, sku_embedder, texts)
    vectors = dict(zip(texts, matrix, strict=True))
    df, rules = build_sku_features(skus, vectors, params)
    return dg.Output(df, metadata=frame_metadata(
        df, time.perf_counter() - started, embedding_model=sku_embedder.name,
        texts_embedded=fresh, texts_from_cache=len(texts) - fresh,
        column_rules=dg.MetadataValue.md(
            "\n".join(f"- `{c}`: {r}" for c, r in rules.items())),
    ))
