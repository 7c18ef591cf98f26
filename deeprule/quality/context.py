"""Per-sample context the rules read: catalogue facts, LLM priors and the pair's training history.

Everything here is observable (predictions, logged shipments, the SKU catalogue,
extracted priors); nothing reads the simulator's truth. Pair statistics come
from the `train` split only, so held-out rows are described exactly as a
future month would be.
"""

from __future__ import annotations

from datetime import date

import polars as pl

PREDICTION_SCHEMA: dict[str, pl.DataType] = {
    "customer_id": pl.String(),
    "sku_id": pl.String(),
    "month": pl.Date(),
    "split": pl.String(),
    "list_price": pl.Float64(),
    "unit_price": pl.Float64(),
    "discount": pl.Float64(),
    "units": pl.Float64(),
    "predicted_units": pl.Float64(),
}
"""The `demand_predictions` contract this package is written against."""
SPLITS = ("train", "valid", "test")
PAIR = ["customer_id", "sku_id"]
DISCOUNT_BAND_POINTS = 0.03
"""A discount this far (as a fraction of list price) from the pair's usual one is 'deeper' or
'shallower'; promotions in the history are 5-12 points deep."""
UNKNOWN = "unknown"


def check_predictions(preds: pl.DataFrame) -> pl.DataFrame:
    """The frame cast to the contract; a clear error names missing columns or bad splits."""
    missing = [c for c in PREDICTION_SCHEMA if c not in preds.columns]
    if missing:
        raise ValueError(f"demand_predictions lacks column(s) {missing}; "
                         f"expected {list(PREDICTION_SCHEMA)}")
    out = preds.select(list(PREDICTION_SCHEMA)).cast(PREDICTION_SCHEMA)
    bad = sorted(set(out["split"].unique().to_list()) - set(SPLITS))
    if bad:
        raise ValueError(f"demand_predictions.split has unknown value(s) {bad}; allowed {SPLITS}")
    return out


def month_index(column: str = "month") -> pl.Expr:
    """Months since year 0: consecutive months differ by exactly one."""
    return pl.col(column).dt.year().cast(pl.Int64) * 12 + pl.col(column).dt.month() - 1


def forecast_origin(preds: pl.DataFrame) -> date | None:
    """The last month that is not held out: the newest label a forecast may use."""
    known = preds.filter(pl.col("split") != "test")["month"]
    return known.max() if known.len() else None  # type: ignore[return-value]


def pair_history(preds: pl.DataFrame) -> pl.DataFrame:
    """Per pair, from the training rows: mean and max units, months seen, usual discount."""
    return preds.filter(pl.col("split") == "train").group_by(PAIR).agg(
        hist_mean_units=pl.col("units").mean(),
        hist_max_units=pl.col("units").max(),
        hist_months=pl.len().cast(pl.Int64),
        usual_discount=pl.col("discount").mean(),
    )


def _priors_view(priors: pl.DataFrame | None) -> pl.DataFrame:
    schema = {"customer_id": pl.String, "categories": pl.List(pl.String),
              "price_sensitivity_level": pl.String}
    if priors is None or priors.is_empty():
        return pl.DataFrame(schema=schema)
    return priors.select(list(schema)).cast(schema)


def sample_context(preds: pl.DataFrame, skus: pl.DataFrame,
                   priors: pl.DataFrame | None) -> pl.DataFrame:
    """Predictions plus category, scope, sensitivity, training history and a discount band.

    `in_scope` is null when the customer's priors name no category (no
    evidence either way), so scope rules never fire on missing priors.
    """
    catalogue = skus.select("sku_id", "primary_category")
    out = (preds.join(catalogue, on="sku_id", how="left")
           .join(_priors_view(priors), on="customer_id", how="left")
           .join(pair_history(preds), on=PAIR, how="left"))
    n_categories = pl.col("categories").list.len().fill_null(0)
    gap = pl.col("discount") - pl.col("usual_discount")
    return out.with_columns(
        primary_category=pl.col("primary_category").fill_null(UNKNOWN),
        in_scope=pl.when(n_categories > 0)
        .then(pl.col("categories").list.contains(pl.col("primary_category"))),
        sensitivity=pl.col("price_sensitivity_level").fill_null(UNKNOWN),
        has_history=pl.col("hist_months").fill_null(0) > 0,
        discount_band=pl.when(pl.col("usual_discount").is_null()).then(pl.lit(UNKNOWN))
        .when(gap >= DISCOUNT_BAND_POINTS).then(pl.lit("deeper"))
        .when(gap <= -DISCOUNT_BAND_POINTS).then(pl.lit("shallower"))
        .otherwise(pl.lit("usual")),
    ).drop("categories", "price_sensitivity_level")


DESCRIPTION_KEYS = ["primary_category", "sensitivity", "in_scope", "has_history", "discount_band"]
"""What a sample's description (and so its retrieved rule and its LLM weight) depends on.
Kept coarse on purpose: each distinct description may cost one LLM call."""
DISCOUNT_PHRASES = {"deeper": "at a deeper discount than usual",
                    "shallower": "at a shallower discount than usual",
                    "usual": "at its usual discount", UNKNOWN: "at a first discount"}


def describe(keys: pl.DataFrame) -> pl.Series:
    """A short English description of each row of DESCRIPTION_KEYS (ψ(x) embeds this)."""
    scope = (pl.when(pl.col("in_scope").is_null()).then(pl.lit("with no declared scope"))
             .when(pl.col("in_scope")).then(pl.lit("inside its declared category scope"))
             .otherwise(pl.lit("outside its declared category scope")))
    history = pl.when(pl.col("has_history")).then(
        pl.lit("the pair has shipment history")).otherwise(
        pl.lit("a new pair with no shipment history"))
    discount = pl.col("discount_band").replace_strict(DISCOUNT_PHRASES, default="")
    text = pl.concat_str(
        pl.lit("A customer with "), pl.col("sensitivity"), pl.lit(" price sensitivity buys a "),
        pl.col("primary_category"), pl.lit(" SKU "), scope, pl.lit(", "), discount,
        pl.lit("; "), history, pl.lit("."),
    )
    return keys.select(text.alias("description")).to_series()
