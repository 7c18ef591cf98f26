"""Honest plan predictions: the demand model's units re-anchored and calibrated before an
optimizer reads them.

An optimizer that maximizes predicted profit picks the options the model over-predicts
(the optimizer's curse): on `demo` the MILP chose never-traded pairs (a SKU new to the
customer) because the network, with no pair history to read, predicts about the training
mean for every one of them, so an expensive high-margin SKU looks as sellable as a
cheap one. Two steps, both learned from shipments only (never the simulator's truth):

1. New-pair prior (`pair_prior`): a never-traded pair's units at its usual price are set
   to a hierarchical log-additive estimate, customer effect + SKU effect + the customer's
   effect in the SKU's category + in its brand, each ridge-shrunk and fitted on the
   shipments strictly before the row's month. It knows that this SKU sells few units
   wherever it is traded, that this customer buys little, and that it buys much of this
   category or brand (its sales of the other SKUs of that category or brand). SKUs launched
   since the shipments began share a launch effect, and a brand the documents say the
   customer wants, or a category they say it has opened, is lifted to its strongest traded
   one (`document_lifts`): no shipment can show a pair the logged policy never offered. The
   network's price response (its slopes) is kept: only the level moves, so units stay
   monotone in price.
2. Validation calibration (`fit_calibration`): per segment (traded pair / new pair), an
   isotonic regression of the observed units on the predicted units of the validation
   months' shipments at their logged prices, months the model did not train on and
   before the plan month. Each plan row's level is then scaled by iso(pred) / pred at
   its usual price (a factor held to `factor_bounds`), so a segment the model
   over-predicts is shrunk where it over-predicts.
3. Optionally, new pairs at a conservative quantile (`new_pair_quantile`, off by
   default: measured, it buys honesty with profit): a customer takes min(recommended,
   demand), so planning the mean of a wide forecast loses wherever the demand falls
   short; new pairs are then planned at a volume-weighted quantile of observed /
   calibrated units. Without enough genuinely new validation pairs, that spread is
   measured on traded validation rows scored as new (their prior fitted without their
   pair); only the spread, not their level, is used (see `SegmentFit.factor`).
4. Sales tiers (`sales_tiers`): how much of a recommendation beyond the calibrated forecast
   sells. Pooled over the validation rows, the volume-weighted share of each tier of units
   (multiples of the forecast, `tier_bounds`) that the observed units covered; the MILP
   recommends into a tier when its expected share's margin is worth the room it takes in
   the value band (deeprule/optimize/milp.py, `SalesTiers`).

docs/plans.md describes where the plans use it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

import numpy as np
import polars as pl
from sklearn.isotonic import IsotonicRegression

from deeprule.models.demand import DemandScorer
from deeprule.models.frames import ScoringFrame, SourceTables
from deeprule.models.matrix import codes, find, training_frame
from deeprule.models.price import PriceResponse
from deeprule.optimize.milp import EXACT, SalesTiers

SEGMENTS = ("traded", "new pair")
"""Calibration segments: the pair shipped before the row's month, or never."""
SOURCE_VALIDATION = "validation"
SOURCE_PSEUDO = "traded pairs scored as new"
"""Which validation rows a segment was fitted on."""


@dataclass(frozen=True)
class CalibrationConfig:
    """How plan predictions are made honest (docs/plans.md, "Calibrated predictions")."""

    enabled: bool = True
    """False: the optimizers read the demand model's units as they are."""
    new_pair_prior: bool = True
    """Re-anchor never-traded pairs on the customer x SKU prior before calibrating."""
    prior_ridge: float = 5.0
    """Pseudo-rows shrinking each customer and SKU effect towards 0 (a customer or SKU
    seen a few times is trusted a little)."""
    prior_interactions: tuple[str, ...] = ("primary_category", "brand")
    """SKU-table columns each adding a customer x column effect to the prior: a customer's
    sales of the other SKUs of a category or brand are evidence about a SKU of it that it
    never bought. (): the two-way prior, customer + SKU only (the ablation)."""
    launch_effect: bool = True
    """SKUs launched since the shipments began share one effect (shrunk like the SKU
    effects): a launch the few customers first offered it already buy says how one nobody
    has bought yet will sell, which the average SKU's effect (a SKU's default) does not."""
    document_lifts: bool = True
    """A never-traded pair whose brand a negotiation names as wanted, or whose category an
    announcement has opened (the rows' `doc_brand_wanted` / `doc_announced_now`), takes its
    customer's strongest traded brand (category) effect instead of the unknown's 0. The
    logged policy never offers such a pair, so no shipment shows its volume; the documents
    say the customer asked for it. Rows without document facts are left as they are."""
    interaction_ridge: float = 2.0
    """Pseudo-rows shrinking each customer x category / brand effect towards 0: a
    customer's few rows in a brand say little about its other SKUs."""
    prior_sweeps: int = 25
    """Backfitting passes over the effects (25 recover planted effects within 0.1 in log
    units: tests/models/test_calibration.py)."""
    new_pair_quantile: float | None = None
    """Plan new pairs at this quantile of their validation observed / calibrated ratio
    (volume-weighted) instead of the mean: their prior is wide (it reads no pair history)
    and a customer takes min(recommended, demand). None (default): the mean. Measured on
    `demo` (4 seeds, docs/baselines.md): 0.5 makes the MILP plan's prediction more honest
    (realized / predicted 0.91 against 0.86) but realizes 0.8 % less profit."""
    pseudo_folds: int = 2
    """Folds of pairs for scoring traded validation rows as new pairs (each fold's prior
    fitted without its pairs)."""
    min_rows: int = 30
    """A segment with fewer validation rows keeps factor 1 (too little to calibrate on)."""
    factor_bounds: tuple[float, float] = (0.2, 1.5)
    """Bounds on a row's calibration factor: calibration corrects, it does not rewrite."""
    tier_bounds: tuple[float, ...] = (1.0, 1.1, 1.25, 1.5, 2.0, 3.0)
    """Upper bounds of the sales tiers, in multiples of the calibrated forecast (the first
    is the forecast itself). (1.0,): recommend the forecast, never beyond (the ablation)."""


@dataclass(frozen=True)
class SegmentFit:
    """One segment's isotonic map from predicted to observed units (None: factor 1)."""

    segment: str
    rows: int
    predicted: float
    observed: float
    curve: IsotonicRegression | None
    spread: float = 1.0
    """Extra factor: the quantile of observed / calibrated units the segment is planned at
    (1: the calibrated mean)."""
    source: str = SOURCE_VALIDATION
    """Which rows it was fitted on."""

    def factor(self, predicted: np.ndarray, bounds: tuple[float, float]) -> np.ndarray:
        """Per row: iso(pred) / pred times the spread. Fitted on pseudo-new pairs, only the
        spread: those pairs were kept by the customer's habit, so their level says how much
        the prior misses a pair the customer chose, not one it never tried (it would
        scale genuinely new pairs up by their survivors' success)."""
        if self.curve is None:
            return np.ones(len(predicted))
        if self.source != SOURCE_VALIDATION:
            return np.clip(np.full(len(predicted), self.spread), *bounds)
        safe = np.maximum(predicted, 1e-9)
        return np.clip(self.curve.predict(safe) / safe * self.spread, *bounds)


@dataclass(frozen=True)
class Calibration:
    """The fitted segments; `apply` makes a plan month's response honest."""

    config: CalibrationConfig
    segments: dict[str, SegmentFit]
    tiers: SalesTiers = EXACT
    """How much of a recommendation beyond the calibrated forecast is expected to sell."""

    def summary(self) -> pl.DataFrame:
        """segment, validation rows, predicted and observed units there (metadata)."""
        return pl.DataFrame(
            [{"segment": s.segment, "rows": s.rows, "predicted_units": s.predicted,
              "observed_units": s.observed, "calibrated": s.curve is not None,
              "quantile_factor": s.spread, "fitted_on": s.source}
             for s in self.segments.values()],
            schema={"segment": pl.String, "rows": pl.Int64, "predicted_units": pl.Float64,
                    "observed_units": pl.Float64, "calibrated": pl.Boolean,
                    "quantile_factor": pl.Float64, "fitted_on": pl.String})

    def apply(self, frame: ScoringFrame, response: PriceResponse,
              prior: np.ndarray | None) -> PriceResponse:
        """`response` re-anchored on `prior` (new pairs) and scaled per segment at each row's
        usual price. Whether to calibrate at all (`config.enabled`) is `active`'s to
        decide, before it fits the prior this needs."""
        anchored = anchor_new_pairs(frame, response, prior, self.config)
        usual = usual_price(frame)
        predicted = anchored.units(usual)
        factor = np.ones(frame.height)
        for name, mask in segment_masks(frame).items():
            factor[mask] = self.segments[name].factor(predicted[mask],
                                                      self.config.factor_bounds)
        return replace(anchored, level=anchored.level + np.log(factor))


def active(calibration: Calibration | None) -> Calibration | None:
    """`calibration` when it is switched on, else None: the one place `enabled` is read."""
    return calibration if calibration is not None and calibration.config.enabled else None


def calibrated(calibration: Calibration | None, frame: ScoringFrame, response: PriceResponse,
               tables: SourceTables) -> PriceResponse:
    """`response` as the optimizers read it: new pairs re-anchored on their prior from the
    shipments before each row's month, each segment calibrated (unchanged without a
    calibration or with it disabled). The plans and the rule search both read this, so a
    rule's fitness and its plan's predicted units agree."""
    on = active(calibration)
    if on is None:
        return response
    prior = pair_prior(tables, frame.rows, on.config) if on.config.new_pair_prior else None
    return on.apply(frame, response, prior)


def usual_price(frame: ScoringFrame) -> np.ndarray:
    """Each row's usual price: the pair's mean log discount, else the customer's in the
    category (the scoring frame's r_usual)."""
    return frame.column("list_price") * np.exp(frame.column("r_usual"))


def segment_masks(frame: ScoringFrame) -> dict[str, np.ndarray]:
    traded = frame.column("has_history") > 0
    return dict(zip(SEGMENTS, (traded, ~traded), strict=True))


def pair_prior(tables: SourceTables, rows: pl.DataFrame, config: CalibrationConfig,
               folds: int = 1) -> np.ndarray:
    """Units per row (customer_id, sku_id, month) from the hierarchical log-additive fit
    (`prior_effects`) on the shipments strictly before the row's month, the SKUs'
    categories and brands read from `tables.skus`; rows of a month with no earlier
    shipments get NaN (no prior).

    With `folds` > 1 the pairs are split into that many folds by a hash and each row's
    prior is fitted without its fold's pairs: the row is scored as if its pair had never
    traded (a pseudo-new pair), which is how the new-pair segment is calibrated when the
    validation months ship too few genuinely new pairs.
    """
    skus, columns = tables.skus, config.prior_interactions
    if config.launch_effect:
        skus, columns = with_launch_column(skus, tables.shipments), (*columns, LAUNCHED)
    shipments = with_sku_columns(tables.shipments, skus, columns)
    rows = with_sku_columns(rows, skus, columns)
    out = np.full(rows.height, np.nan)
    fold, past_fold = _pair_fold(rows, folds), _pair_fold(shipments, folds)
    row_month, past_month = rows["month"].to_numpy(), shipments["month"].to_numpy()
    for month in np.unique(row_month):
        for k in range(folds):
            mask = (row_month == month) & (fold == k)
            left_out = (past_fold == k) if folds > 1 else np.zeros(len(past_fold), dtype=bool)
            past = shipments.filter((past_month < month) & ~left_out)
            out[mask] = _prior_from(past, rows.filter(mask), config)
    return out


LAUNCHED = "_launched"
"""The SKU column the launch effect keys on ("true": launched since the shipments began)."""
COHORT_RIDGE = 0.0
"""The launch cohort is not shrunk: it is estimated from every launch's rows, and shrinking
it would only hand the launches' shared lift to their own SKU effects (it nests them),
which a launch nobody has bought yet does not have."""


def with_launch_column(skus: pl.DataFrame, shipments: pl.DataFrame) -> pl.DataFrame:
    """`skus` with LAUNCHED: whether its `launch_month` is on or after the first shipment
    month (a SKU table without launch months launches nothing)."""
    start = shipments["month"].min()
    if "launch_month" not in skus.columns or start is None:
        return skus.with_columns(pl.lit("false").alias(LAUNCHED))
    if skus.schema["launch_month"] not in (pl.Date, pl.Null):
        raise ValueError(f"skus table: column 'launch_month' must be a date, got "
                         f"{skus.schema['launch_month']}")
    launched = (pl.col("launch_month") >= start).fill_null(False)
    return skus.with_columns(launched.cast(pl.String).alias(LAUNCHED))


def with_sku_columns(rows: pl.DataFrame, skus: pl.DataFrame, columns: tuple[str, ...]
                     ) -> pl.DataFrame:
    """`rows` with the SKU table's `columns` joined on sku_id; a SKU missing from the table
    (or without a value) is an error: its interaction effects would silently vanish."""
    wanted = [c for c in columns if c not in rows.columns]
    if not wanted:
        return rows
    missing = [c for c in wanted if c not in skus.columns]
    if missing:
        raise ValueError(f"skus table: no column {missing} (CalibrationConfig.prior_interactions)")
    joined = rows.join(skus.select("sku_id", *wanted), on="sku_id", how="left",
                       maintain_order="left")
    for column in wanted:
        unknown = joined.filter(pl.col(column).is_null())["sku_id"].unique().sort()
        if len(unknown):
            raise ValueError(f"skus table: column {column!r} has no value for sku_id(s) "
                             f"{unknown.to_list()[:5]}")
    return joined


def _pair_fold(rows: pl.DataFrame, folds: int) -> np.ndarray:
    if folds <= 1:
        return np.zeros(rows.height, dtype=np.int64)
    key = rows.select(pl.concat_str("customer_id", "sku_id", separator="|").hash(seed=0))
    return (key.to_series().to_numpy() % np.uint64(folds)).astype(np.int64)


@dataclass(frozen=True)
class Effect:
    """One term of the new-pair prior: rows with the same `columns` share it, ridge-shrunk
    by `ridge` pseudo-rows at 0. `lift`: the document fact (a row column) that lifts a key
    never shipped to its customer's strongest shipped one (`document_lifts`)."""

    columns: tuple[str, ...]
    ridge: float
    lift: str | None = None


DOCUMENT_LIFTS = {"brand": "doc_brand_wanted", "primary_category": "doc_announced_now"}
"""SKU column of a customer x column effect -> the document fact that lifts an unseen key:
a brand a negotiation names as wanted, a category an announcement has opened."""


def prior_effects(config: CalibrationConfig) -> list[Effect]:
    """The prior's effects: customer, launch cohort (with `launch_effect`), SKU, then one
    customer x SKU-column interaction per `prior_interactions` (lifted by its document fact
    with `document_lifts`). The customer effect comes first: the lifts read it."""
    cohort = [Effect((LAUNCHED,), COHORT_RIDGE)] if config.launch_effect else []
    main = [Effect(("customer_id",), config.prior_ridge), *cohort,
            Effect(("sku_id",), config.prior_ridge)]
    lifts = DOCUMENT_LIFTS if config.document_lifts else {}
    return main + [Effect(("customer_id", column), config.interaction_ridge, lifts.get(column))
                   for column in config.prior_interactions]


def _effect_keys(rows: pl.DataFrame, columns: tuple[str, ...]) -> pl.Series:
    return rows.select(pl.concat_str(*columns, separator="|")).to_series()


def _prior_from(past: pl.DataFrame, rows: pl.DataFrame, config: CalibrationConfig
                ) -> np.ndarray:
    if past.is_empty():
        return np.full(rows.height, np.nan)
    effects = prior_effects(config)
    levels, indices = zip(*(codes(_effect_keys(past, e.columns)) for e in effects), strict=True)
    y = np.log(past["units"].to_numpy().astype(np.float64) + 0.5)
    mean, fitted = fit_additive(y, list(indices), [len(k) for k in levels],
                                [e.ridge for e in effects], config.prior_sweeps)
    lookups = [find(_effect_keys(rows, e.columns), known)
               for e, known in zip(effects, levels, strict=True)]
    customer = lookups[0]
    log_units = np.full(rows.height, mean)
    for e, (found, at), code, effect in zip(effects, lookups, indices, fitted, strict=True):
        value = np.where(found, effect[at], 0.0)
        if e.lift is not None and e.lift in rows.columns:
            strongest = _strongest(code, indices[0], effect, len(levels[0]))
            lifted = (rows[e.lift].to_numpy() > 0) & ~found & customer[0]
            value = np.where(lifted, strongest[customer[1]], value)
        log_units += value
    return np.maximum(np.exp(log_units) - 0.5, 0.0)


def _strongest(key_of_row: np.ndarray, customer_of_row: np.ndarray, effect: np.ndarray,
               customers: int) -> np.ndarray:
    """Per customer code, its largest fitted effect among the customer x column keys it
    shipped (the fit's codes say whose each key is), at least 0: a lift never lowers the
    unknown's default."""
    owner = np.zeros(len(effect), dtype=np.int64)
    owner[key_of_row] = customer_of_row
    best = np.zeros(customers)
    np.maximum.at(best, owner, effect)
    return best


def fit_additive(y: np.ndarray, groups: list[np.ndarray], sizes: list[int],
                 ridges: list[float], sweeps: int) -> tuple[float, list[np.ndarray]]:
    """(mean, one effect vector per grouping) of y ≈ mean + Σ_k e_k[groups[k]], effect k
    ridge-shrunk by ridges[k] pseudo-observations at 0 (backfitting: each effect in turn
    is the shrunk mean of the residual of the others). Nested groupings (customer, then
    customer x brand) share the signal in proportion to their evidence: a brand effect
    only keeps what the customer's overall level does not explain."""
    mean = float(y.mean())
    effects = [np.zeros(n) for n in sizes]
    counts = [np.bincount(g, minlength=n) + ridge
              for g, n, ridge in zip(groups, sizes, ridges, strict=True)]
    residual = y - mean
    for _ in range(sweeps):
        for k, group in enumerate(groups):
            residual += effects[k][group]
            effects[k] = np.bincount(group, residual, minlength=sizes[k]) / counts[k]
            residual -= effects[k][group]
    return mean, effects


def anchor_new_pairs(frame: ScoringFrame, response: PriceResponse, prior: np.ndarray | None,
                     config: CalibrationConfig, rows: np.ndarray | None = None
                     ) -> PriceResponse:
    """`rows`' level (default: the never-traded rows) moved so their units at the usual
    price equal the prior (rows without a prior, and every row when the prior is off,
    keep the model's)."""
    if prior is None or not config.new_pair_prior:
        return response
    chosen = frame.column("has_history") <= 0 if rows is None else rows
    new = chosen & np.isfinite(prior)
    current = response.log_units(usual_price(frame))
    target = np.log(np.maximum(prior, 1e-3))
    return replace(response, level=np.where(new, response.level + target - current,
                                            response.level))


def fit_calibration(frame: ScoringFrame, response: PriceResponse, prior: np.ndarray | None,
                    config: CalibrationConfig | None = None,
                    pseudo_prior: np.ndarray | None = None) -> Calibration:
    """Per segment, observed units against predicted units at the logged price on
    `frame` (the validation months' shipments: never trained on, before the plan month),
    predictions re-anchored as `Calibration.apply` re-anchors them. With fewer than
    `min_rows` genuinely new pairs, the new-pair segment is fitted on the traded rows
    scored as new pairs from `pseudo_prior` (their prior fitted without their pair)."""
    config = config or CalibrationConfig()
    price = frame.column("unit_price")
    observed = frame.column("units")
    masks = segment_masks(frame)
    predicted = {name: anchor_new_pairs(frame, response, prior, config).units(price)
                 for name in SEGMENTS}
    source = {name: SOURCE_VALIDATION for name in SEGMENTS}
    if (masks["new pair"].sum() < config.min_rows and pseudo_prior is not None
            and config.new_pair_prior):
        masks["new pair"] = masks["traded"] & np.isfinite(pseudo_prior)
        predicted["new pair"] = anchor_new_pairs(frame, response, pseudo_prior, config,
                                                 masks["new pair"]).units(price)
        source["new pair"] = SOURCE_PSEUDO
    segments, pooled = {}, []
    for name, mask in masks.items():
        segments[name] = fit = _fit_segment(name, predicted[name][mask], observed[mask], config,
                                            source[name])
        forecast = predicted[name][mask] * fit.factor(predicted[name][mask],
                                                      config.factor_bounds)
        pooled.append((forecast, observed[mask]))
    forecast, seen = (np.concatenate(x) for x in zip(*pooled, strict=True))
    return Calibration(config, segments, sales_tiers(forecast, seen, config.tier_bounds))


MIN_TIER_SHARE = 0.01
"""A tier expected to sell less than this share of its units is not offered."""


def sales_tiers(forecast: np.ndarray, observed: np.ndarray, upper: tuple[float, ...]
                ) -> SalesTiers:
    """Per tier of recommended units (between consecutive `upper` multiples of the
    forecast), the share the observed units covered, each row weighted by its forecast
    (the volume at stake). Tiers past the first one selling under `MIN_TIER_SHARE` are
    dropped; no forecast at all: `EXACT`."""
    ratio, weight = weighted_ratios(forecast, observed)
    if not len(ratio):
        return EXACT
    bounds = np.r_[0.0, upper]
    covered = (np.minimum(ratio[:, None], bounds[None, 1:])
               - np.minimum(ratio[:, None], bounds[None, :-1]))
    share = np.minimum.accumulate(weight @ covered / (weight.sum() * np.diff(bounds)))
    offered = max(1, int(np.sum(share >= MIN_TIER_SHARE)))
    return SalesTiers(tuple(float(b) for b in upper[:offered]),
                      tuple(float(max(v, MIN_TIER_SHARE)) for v in share[:offered]))


def _fit_segment(name: str, predicted: np.ndarray, observed: np.ndarray,
                 config: CalibrationConfig, source: str) -> SegmentFit:
    """Isotonic mean map (and, for new pairs, the planned quantile) of one segment."""
    curve, spread = None, 1.0
    if len(predicted) >= config.min_rows:
        curve = IsotonicRegression(y_min=0.0, increasing=True, out_of_bounds="clip")
        curve.fit(predicted, observed)
        if name == "new pair" and config.new_pair_quantile is not None:
            spread = ratio_quantile(curve.predict(predicted), observed,
                                    config.new_pair_quantile)
    return SegmentFit(name, len(predicted), float(predicted.sum()), float(observed.sum()),
                      curve, spread, source)


def weighted_ratios(predicted: np.ndarray, observed: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    """observed / predicted of the rows predicted above 0, and their weights, the predicted
    units: a row forecast at 0.3 units says little about the ratio."""
    keep = predicted > 0
    return observed[keep] / predicted[keep], predicted[keep]


def ratio_quantile(predicted: np.ndarray, observed: np.ndarray, q: float) -> float:
    """The q-quantile of observed / predicted, each row weighted by its predicted units
    (`weighted_ratios`); 1 when nothing is predicted."""
    ratio, weight = weighted_ratios(predicted, observed)
    if not len(ratio):
        return 1.0
    order = np.argsort(ratio)
    cumulative = np.cumsum(weight[order])
    at = np.searchsorted(cumulative, q * cumulative[-1])
    return float(ratio[order][min(at, len(ratio) - 1)])


def calibrate_on_validation(tables: SourceTables, scorer: DemandScorer, months: list[date],
                            config: CalibrationConfig | None = None) -> Calibration:
    """`fit_calibration` on the shipments of `months` (the model's validation months),
    each row's prior from the shipments before its month."""
    config = config or CalibrationConfig()
    frame = training_frame(tables, scorer.spec, months)
    prior = pseudo = None
    if config.new_pair_prior:
        prior = pair_prior(tables, frame.rows, config)
    if config.new_pair_prior and config.new_pair_quantile is not None:
        pseudo = pair_prior(tables, frame.rows, config, config.pseudo_folds)
    return fit_calibration(frame, scorer.response(frame), prior, config, pseudo)


def validation_calibration(tables: SourceTables, scorer: DemandScorer, months: list[date],
                           config: CalibrationConfig) -> Calibration | None:
    """`calibrate_on_validation`, or None when `config` turns calibration off."""
    return calibrate_on_validation(tables, scorer, months, config) if config.enabled else None
