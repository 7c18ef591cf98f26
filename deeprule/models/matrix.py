"""The scorers' feature matrix: customer ⊕ SKU ⊕ price ⊕ promotion, built from tables.

Two kinds of inputs reach the networks:

* context (price-independent): the `features` group's customer, SKU and
  customer x category columns, the SKU's price level, a per-SKU seasonal and
  trend profile, within-pair price-response estimates, and the pair's own
  shipment history *strictly before* the row's month (so a training row never
  sees its own label, and a future month is built exactly like a past one);
* price: the log price ratio r = log(unit_price / list_price) and the pair's
  usual ratio r_usual. Discount depth and the promotion flag are functions of
  r, so they enter only through the monotone basis in `price.py`.

Everything fitted (z-scores, SKU profiles, elasticity estimates, defaults) is
fitted on the training months only and kept in a JSON-serializable
`FeatureSpec` (deeprule/models/frames.py), logged with each model so scoring rebuilds
identical columns.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import numpy as np
import polars as pl

from deeprule.features.documents import DOC_COLUMNS, with_document_columns
from deeprule.models.frames import FeatureSpec, ScoringFrame, SourceTables
from deeprule.models.price import PriceBasis

PAIR = ["customer_id", "sku_id"]
LOW_COLUMNS = ["hist_log_units", "hist_log_max", "hist_log_n", "has_history", "time_shift"]
"""Key volume variables for the low-dimensional tower (the paper's dual-tower 'y')."""
DERIVED_HIGH = ["log_list_price", "log_list_over_cost", "season_cos", "season_sin",
                "time_now", "r_usual", "sku_elasticity", "cc_sensitivity"]
WHOLE_HISTORY = ("units_", "revenue_", "avg_unit_price", "cat_units_")
"""Feature-table columns computed over all months (docs/features.md): a row would see its
own and later months' sales through them, so the scorers use their as-of history instead."""
ROW_COLUMNS = ("customer_id", "sku_id", "month", "primary_category", "list_price", "unit_price",
               "discount", "cost", "units", "net_rate", "r", "r_usual", "hist_mean_units",
               "hist_max_units", "has_history", "prior_log_units", "prior_elasticity", "time_now",
               "time_hist", *DOC_COLUMNS)
"""Row-level columns a scoring frame keeps next to its matrices (document facts raw, when the
tables carry priors: the rule vocabulary reads them)."""
PROFILE_RIDGE = (1.0, 1.0, 10.0, 0.1)
"""Ridge per coefficient (cos, sin, trend, price) of the per-SKU regression: a trend
is hard to tell from a season in under two years, so it is shrunk hardest."""
MIN_PRIOR_ELASTICITY, MAX_PRIOR_ELASTICITY = 0.05, 6.0
"""Bounds on the within-pair elasticity estimates."""
SENSITIVITY_BOUNDS = (0.25, 4.0)
"""How far a customer's own price response may scale its SKUs' typical elasticity."""
CC_SHRINK = 0.5
"""Prior strength (a sum of squared within-pair log price deviations) pulling a
customer x category sensitivity towards 1 (the average customer)."""
SKU_SHRINK = 0.02
"""Prior strength pulling a SKU's elasticity towards DEFAULT_ELASTICITY."""
DEFAULT_ELASTICITY = 1.0
FACTOR_ROUNDS = 4
"""Alternating rounds of the SKU x customer elasticity factorization."""


def month_ordinal(column: str = "month") -> pl.Expr:
    """Months since 1970-01 (a plain integer clock for trends and lags)."""
    return (pl.col(column).dt.year().cast(pl.Int64) - 1970) * 12 + pl.col(column).dt.month() - 1


def base_rows(shipments: pl.DataFrame, skus: pl.DataFrame) -> pl.DataFrame:
    """Shipments with category, cost, price ratio r and the realized net rate."""
    sku_info = skus.select("sku_id", "primary_category", "cost",
                           pl.col("list_price").alias("sku_list_price"))
    rows = shipments.join(sku_info, on="sku_id", how="left")
    return _price_columns(rows).with_columns(
        net_rate=pl.when(pl.col("revenue") > 0)
        .then((pl.col("revenue") - pl.col("cost") * pl.col("units")) / pl.col("revenue"))
        .otherwise(1.0 - pl.col("cost") / pl.col("unit_price")),
    )


def query_rows(query: pl.DataFrame, skus: pl.DataFrame) -> pl.DataFrame:
    """Candidate rows (customer_id, sku_id, month[, unit_price]) ready for assembly.

    Without `unit_price`, the SKU's list price is used (any price can be swept later).
    """
    sku_info = skus.select("sku_id", "primary_category", "cost",
                           pl.col("list_price").alias("sku_list_price"))
    rows = query.join(sku_info, on="sku_id", how="left")
    missing = rows.filter(pl.col("primary_category").is_null())
    if missing.height:
        raise ValueError(f"unknown sku_id(s) in query: {missing['sku_id'].unique().to_list()[:5]}")
    if "list_price" not in rows.columns:
        rows = rows.with_columns(list_price=pl.col("sku_list_price"))
    if "unit_price" not in rows.columns:
        rows = rows.with_columns(unit_price=pl.col("list_price"))
    return _price_columns(rows)


def _price_columns(rows: pl.DataFrame) -> pl.DataFrame:
    return rows.with_columns(
        r=(pl.col("unit_price") / pl.col("list_price")).log(),
        ordinal=month_ordinal(),
        moy=pl.col("month").dt.month(),
    )


def fit_spec(tables: SourceTables, train_months: list[date],
             basis: PriceBasis | None = None) -> FeatureSpec:
    """Fit every statistic the features need on the training months only."""
    rows = base_rows(tables.shipments, tables.skus)
    train = rows.filter(pl.col("month").is_in(train_months))
    if train.is_empty():
        raise ValueError("no shipments in the training months")
    origin = int(train["ordinal"].min())
    profile = _fit_sku_profile(train, origin)
    partial = FeatureSpec(
        high_columns=[], low_columns=LOW_COLUMNS, zscore={},
        categories=sorted(tables.skus["primary_category"].unique().to_list()),
        sku_profile={k: v[:3] for k, v in profile.items()}, sku_elasticity={}, cc_sensitivity={},
        category_r_usual=_category_r_usual(train), y_scale=float(train["units"].mean()),
        origin=origin, train_months=[m.isoformat() for m in sorted(train_months)],
        basis=basis or PriceBasis(),
    )
    sku, cc = _fit_elasticity_factors(_with_time(train, partial))
    partial = replace(partial, sku_elasticity=sku, cc_sensitivity=cc)
    raw = _raw_matrix(_with_time(train, partial), tables, partial)
    high = _high_columns(raw, partial)
    zscore = {c: _stats(raw[c]) for c in [*high, *LOW_COLUMNS]}
    return replace(partial, high_columns=high, zscore=zscore)


def training_frame(tables: SourceTables, spec: FeatureSpec,
                   months: list[date] | None = None) -> ScoringFrame:
    """Logged shipments (optionally only some months) as a scoring frame with labels."""
    rows = base_rows(tables.shipments, tables.skus)
    if months is not None:
        rows = rows.filter(pl.col("month").is_in(months))
    return assemble(rows, tables, spec)


def scoring_frame(query: pl.DataFrame, tables: SourceTables, spec: FeatureSpec) -> ScoringFrame:
    """Candidate rows (customer_id, sku_id, month[, unit_price]) with history from `tables`."""
    return assemble(query_rows(query, tables.skus), tables, spec)


def assemble(rows: pl.DataFrame, tables: SourceTables, spec: FeatureSpec) -> ScoringFrame:
    """Join features and history onto prepared rows and standardize them."""
    rows = rows.with_row_index("_row")
    raw = _raw_matrix(_with_time(rows, spec), tables, spec).sort("_row")
    high = _standardize(raw, spec.high_columns, spec)
    low = _standardize(raw, spec.low_columns, spec)
    keep = [c for c in ROW_COLUMNS if c in raw.columns]
    return ScoringFrame(raw.select(keep), high, low)


def _with_time(rows: pl.DataFrame, spec: FeatureSpec) -> pl.DataFrame:
    """Add the SKU's fitted season + trend term for the row's month (log units)."""
    profile = pl.DataFrame(
        {"sku_id": list(spec.sku_profile),
         **{name: [v[i] for v in spec.sku_profile.values()]
            for i, name in enumerate(("p_cos", "p_sin", "p_trend"))}},
        schema={"sku_id": pl.String, "p_cos": pl.Float64, "p_sin": pl.Float64,
                "p_trend": pl.Float64},
    )
    return rows.join(profile, on="sku_id", how="left").with_columns(
        pl.col("p_cos", "p_sin", "p_trend").fill_null(0.0),
    ).with_columns(time_now=_time_term(spec.origin)).drop("p_cos", "p_sin", "p_trend")


def _time_term(origin: int) -> pl.Expr:
    angle = 2.0 * np.pi * pl.col("moy") / 12.0
    years = (pl.col("ordinal") - origin) / 12.0
    return pl.col("p_cos") * angle.cos() + pl.col("p_sin") * angle.sin() + pl.col("p_trend") * years


def _raw_matrix(rows: pl.DataFrame, tables: SourceTables, spec: FeatureSpec) -> pl.DataFrame:
    """All feature columns before standardization."""
    out = _join_history(rows, tables, spec)
    out = _join_features(out, tables)
    if tables.customer_priors is not None:
        out = with_document_columns(out, tables.customer_priors, tables.skus)
    sku = _lookup_frame("sku_id", "sku_elasticity", spec.sku_elasticity)
    cc = _lookup_frame("_cc", "cc_sensitivity", spec.cc_sensitivity)
    typical = float(np.median(list(spec.sku_elasticity.values()))) if spec.sku_elasticity else 1.0
    angle = 2.0 * np.pi * pl.col("moy") / 12.0
    out = (
        out.with_columns(_cc=pl.concat_str("customer_id", "primary_category", separator="|"))
        .join(sku, on="sku_id", how="left").join(cc, on="_cc", how="left")
        .with_columns(
            sku_elasticity=pl.col("sku_elasticity").fill_null(typical),
            cc_sensitivity=pl.col("cc_sensitivity").fill_null(1.0),
            log_list_price=pl.col("list_price").log(),
            log_list_over_cost=(pl.col("list_price") / pl.col("cost")).log(),
            season_cos=angle.cos(), season_sin=angle.sin(),
            time_shift=pl.col("time_now") - pl.col("time_hist"),
        )
        .with_columns(prior_elasticity=(pl.col("sku_elasticity") * pl.col("cc_sensitivity"))
                      .clip(MIN_PRIOR_ELASTICITY, MAX_PRIOR_ELASTICITY))
        .drop("_cc")
    )
    return out.with_columns(
        [(pl.col("primary_category") == c).cast(pl.Float64).alias(f"cat__{c}")
         for c in spec.categories]
    )


def _lookup_frame(key: str, name: str, values: dict[str, float]) -> pl.DataFrame:
    return pl.DataFrame({key: list(values), name: list(values.values())},
                        schema={key: pl.String, name: pl.Float64})


def _join_history(rows: pl.DataFrame, tables: SourceTables, spec: FeatureSpec) -> pl.DataFrame:
    """The pair's shipments strictly before the row's month (as-of join on month).

    The usual price ratio falls back from the pair's history to the customer's
    history in the SKU's category (its negotiated discount there) to the
    category's training median.
    """
    past = _with_time(base_rows(tables.shipments, tables.skus), spec).sort(*PAIR, "month")
    cumulative = past.select(
        *PAIR, "month",
        cum_units=pl.col("units").cast(pl.Float64).cum_sum().over(PAIR),
        cum_max=pl.col("units").cast(pl.Float64).cum_max().over(PAIR),
        cum_n=pl.col("units").cum_count().over(PAIR).cast(pl.Float64),
        cum_r=pl.col("r").cum_sum().over(PAIR),
        cum_time=pl.col("time_now").cum_sum().over(PAIR),
    ).sort("month")
    joined = rows.sort("month").join_asof(
        cumulative, on="month", by=PAIR, strategy="backward", allow_exact_matches=False,
        check_sortedness=False,
    )
    joined = _join_category_usual(joined, past, spec)
    n = pl.col("cum_n").fill_null(0.0)
    has = n > 0
    return joined.with_columns(
        has_history=has.cast(pl.Float64),
        hist_mean_units=pl.when(has).then(pl.col("cum_units") / n).otherwise(None),
        hist_max_units=pl.col("cum_max"),
        hist_log_n=n.log1p(),
        r_usual=pl.when(has).then(pl.col("cum_r") / n).otherwise(pl.col("_r_fallback")),
        time_hist=pl.when(has).then(pl.col("cum_time") / n).otherwise(pl.col("time_now")),
    ).with_columns(
        hist_log_units=pl.col("hist_mean_units").log1p().fill_null(0.0),
        hist_log_max=pl.col("hist_max_units").log1p().fill_null(0.0),
        prior_log_units=pl.when(has)
        .then((pl.col("hist_mean_units") + 0.5).log() + pl.col("time_now") - pl.col("time_hist"))
        .otherwise(float(np.log(spec.y_scale))),
    ).drop("cum_units", "cum_max", "cum_n", "cum_r", "cum_time", "_r_fallback")


def _join_category_usual(rows: pl.DataFrame, past: pl.DataFrame,
                         spec: FeatureSpec) -> pl.DataFrame:
    """Add `_r_fallback`: the customer's mean r in the category before the row's month."""
    keys = ["customer_id", "primary_category"]
    monthly = past.group_by(*keys, "month").agg(pl.col("r").sum(), pl.len().alias("n"))
    cumulative = monthly.sort(*keys, "month").select(
        *keys, "month",
        cc_r=pl.col("r").cum_sum().over(keys), cc_n=pl.col("n").cum_sum().over(keys),
    ).sort("month")
    usual = pl.DataFrame(
        {"primary_category": list(spec.category_r_usual),
         "_r_default": list(spec.category_r_usual.values())},
        schema={"primary_category": pl.String, "_r_default": pl.Float64},
    )
    return (
        rows.sort("month")
        .join_asof(cumulative, on="month", by=keys, strategy="backward",
                   allow_exact_matches=False, check_sortedness=False)
        .join(usual, on="primary_category", how="left")
        .with_columns(_r_fallback=pl.coalesce(pl.col("cc_r") / pl.col("cc_n"), "_r_default",
                                              pl.lit(0.0)))
        .drop("cc_r", "cc_n", "_r_default")
    )


def _join_features(rows: pl.DataFrame, tables: SourceTables) -> pl.DataFrame:
    """Left-join the `features` group's tables, prefixing their columns.

    Their temporal statistics (WHOLE_HISTORY) are left out: they summarize every
    month up to the latest, held-out months included.
    """
    joins = (
        (tables.customer_features, ["customer_id"], "cust__"),
        (tables.sku_features, ["sku_id"], "sku__"),
        (tables.customer_category_features, ["customer_id", "primary_category"], "cc__"),
    )
    for table, keys, prefix in joins:
        if table is None or table.is_empty():
            continue
        numeric = [c for c, t in table.schema.items()
                   if c not in keys and t.is_numeric() and not c.startswith(WHOLE_HISTORY)]
        renamed = table.select(*keys, *[pl.col(c).cast(pl.Float64).alias(prefix + c)
                                        for c in numeric])
        rows = rows.join(renamed, on=keys, how="left")
    return rows


def _high_columns(raw: pl.DataFrame, spec: FeatureSpec) -> list[str]:
    prefixed = [c for c in raw.columns
                if c.startswith(("cust__", "sku__", "cc__", "cat__")) or c in DOC_COLUMNS]
    return [*DERIVED_HIGH, *prefixed]


def _stats(series: pl.Series) -> tuple[float, float]:
    values = series.cast(pl.Float64).drop_nulls().drop_nans()
    if values.is_empty():
        return 0.0, 1.0
    std = float(values.std() or 0.0)
    return float(values.mean()), std if std > 1e-9 else 1.0


def _standardize(raw: pl.DataFrame, columns: list[str], spec: FeatureSpec) -> np.ndarray:
    """z-scored float32 matrix; a column absent from `raw` or null becomes 0 (its mean)."""
    exprs = []
    for c in columns:
        mean, std = spec.zscore[c]
        value = pl.col(c).cast(pl.Float64) if c in raw.columns else pl.lit(None, pl.Float64)
        exprs.append(((value - mean) / std).fill_nan(None).fill_null(0.0).alias(c))
    if not exprs:
        return np.zeros((raw.height, 0), dtype=np.float32)
    return raw.select(exprs).to_numpy().astype(np.float32)


def _category_r_usual(train: pl.DataFrame) -> dict[str, float]:
    medians = train.group_by("primary_category").agg(pl.col("r").median())
    return dict(zip(medians["primary_category"].to_list(), medians["r"].to_list(), strict=True))


def _within_pair(rows: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """Subtract each pair's mean: what is left varies only over time within a pair."""
    return rows.with_columns([(pl.col(c) - pl.col(c).mean().over(PAIR)).alias(f"d_{c}")
                              for c in columns])


def _fit_sku_profile(train: pl.DataFrame, origin: int) -> dict[str, list[float]]:
    """Per-SKU season (cos, sin), trend and price coefficient from within-pair variation.

    log(units + 0.5) is regressed on month-of-year harmonics, years since the
    first training month and r, after removing each pair's mean; price
    variation inside a pair (promotions) is what identifies the price term.
    """
    angle = 2.0 * np.pi * pl.col("moy") / 12.0
    prepared = _within_pair(
        train.with_columns(
            y=(pl.col("units").cast(pl.Float64) + 0.5).log(), x_cos=angle.cos(),
            x_sin=angle.sin(), x_trend=(pl.col("ordinal") - origin) / 12.0, x_r=pl.col("r"),
        ),
        ["y", "x_cos", "x_sin", "x_trend", "x_r"],
    )
    x = prepared.select("d_x_cos", "d_x_sin", "d_x_trend", "d_x_r").to_numpy()
    y = prepared["d_y"].to_numpy()
    sku_ids, sku_index = codes(prepared["sku_id"])
    coefs = _grouped_ridge(x, y, sku_index, len(sku_ids), PROFILE_RIDGE)
    return {str(s): [float(v) for v in coefs[i]] for i, s in enumerate(sku_ids)}


def codes(keys: pl.Series) -> tuple[pl.Series, np.ndarray]:
    """(sorted distinct keys, each row's index into them): np.unique's answer without
    sorting millions of Python strings; only the distinct keys are sorted, each row finds
    its own by a hash join (at paper scale np.unique took 40 % of the fitting time, and
    polars' rank ~3 s per key column of 4M shipments)."""
    distinct = keys.unique().sort()
    return distinct, find(keys, distinct)[1]


def find(keys: pl.Series, known: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """(whether each key is in `known`, its index there; 0 when it is not)."""
    index = pl.DataFrame({"key": known, "at": np.arange(len(known))})
    at = pl.DataFrame({"key": keys}).join(index, on="key", how="left",
                                          maintain_order="left")["at"]
    return at.is_not_null().to_numpy(), at.fill_null(0).to_numpy()


def _grouped_ridge(x: np.ndarray, y: np.ndarray, group: np.ndarray, n_groups: int,
                   ridge: tuple[float, ...]) -> np.ndarray:
    """One small ridge regression per group, from group-wise sums of cross products."""
    k = x.shape[1]
    xtx = np.zeros((n_groups, k, k))
    xty = np.zeros((n_groups, k))
    for i in range(k):
        xty[:, i] = np.bincount(group, weights=x[:, i] * y, minlength=n_groups)
        for j in range(i, k):
            xtx[:, i, j] = xtx[:, j, i] = np.bincount(group, weights=x[:, i] * x[:, j],
                                                      minlength=n_groups)
    return np.linalg.solve(xtx + np.diag(ridge)[None], xty[..., None])[..., 0]


def _fit_elasticity_factors(train: pl.DataFrame) -> tuple[dict[str, float], dict[str, float]]:
    """Within-pair elasticity as (SKU elasticity) x (customer x category sensitivity).

    The within-pair deviation of log units (after the SKU's season and trend)
    is regressed on the within-pair deviation of r, i.e. on the price changes a
    customer did not choose once per pair (promotions). A rank-one factorization,
    fitted by alternating least squares, pools every customer's promotions into
    each SKU's elasticity and every SKU's into each customer's sensitivity; the
    sensitivity is shrunk towards 1 and normalized to average 1, the SKU
    elasticity (lightly) towards unit elasticity, which is all that is left
    when a SKU never changed price within a pair.
    """
    prepared = _within_pair(
        train.with_columns(y=(pl.col("units").cast(pl.Float64) + 0.5).log() - pl.col("time_now")),
        ["y", "r"],
    ).with_columns(cc=pl.concat_str("customer_id", "primary_category", separator="|"))
    response, dr = -prepared["d_y"].to_numpy(), prepared["d_r"].to_numpy()
    sku_ids, sku = codes(prepared["sku_id"])
    cc_ids, cc = codes(prepared["cc"])
    bounds = (MIN_PRIOR_ELASTICITY, MAX_PRIOR_ELASTICITY)
    elasticity = np.full(len(sku_ids), DEFAULT_ELASTICITY)
    sensitivity = np.ones(len(cc_ids))
    for _ in range(FACTOR_ROUNDS):
        x = elasticity[sku] * dr
        shrink = CC_SHRINK * float(np.mean(elasticity) ** 2)
        sensitivity = np.clip(
            (np.bincount(cc, x * response, len(cc_ids)) + shrink)
            / (np.bincount(cc, x * x, len(cc_ids)) + shrink), *SENSITIVITY_BOUNDS)
        x = sensitivity[cc] * dr
        xx = np.bincount(sku, x * x, len(sku_ids))
        elasticity = np.clip(
            (np.bincount(sku, x * response, len(sku_ids)) + SKU_SHRINK * DEFAULT_ELASTICITY)
            / (xx + SKU_SHRINK), *bounds)
        weight = np.bincount(cc, (elasticity[sku] * dr) ** 2, len(cc_ids))
        total = float(np.sum(weight))
        scale = float(np.sum(weight * sensitivity)) / total if total > 1e-12 else 1.0
        sensitivity, elasticity = sensitivity / scale, np.clip(elasticity * scale, *bounds)
    return ({str(s): float(v) for s, v in zip(sku_ids, elasticity, strict=True)},
            {str(c): float(v) for c, v in zip(cc_ids, sensitivity, strict=True)})
