"""Customer segments and the paper's segment losses L_t(c) (Section 3.3, "Rule Evaluation").

A segment is a customer type crossed with a scale band (`retail_chain / large`),
read from the `customer_features` table — what the customer is, never the
simulator's truth. The loss of a rule on a segment must be comparable across
segments of very different size and price level, so it is relative:

    L(c) = Σ_{i∈c} (u_i − v_i) / Σ_{i∈c} u_i

v_i is the rule's row value under Φ — predicted profit (p − c)·q(p) minus
η (p − p*)², 0 where it does not stock — and u_i the best value the demand model
allows for that row: the best of `GRID_POINTS` prices spread evenly over
[cost, list price] and the usual price, or 0 (not stocking) when none is
positive. L(c) is the share of the attainable value the rule leaves on the table
in that segment: 0 is as good as the grid, 0.1 is 10 % short. It can dip a hair
below 0 where the rule's price falls between grid points, and exceed 1 where the
rule stocks at a loss. With η = 0 it is the plain profit shortfall; with η > 0 it
measures the rule against what Φ itself rewards, so the LLM is never told to chase a
change Φ's price-deviation term would undo. Φ's complexity and violation terms are
global, not any segment's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from deeprule.features.customer import column_slug
from deeprule.rules import Program, decide
from deeprule.search.objective import Candidates, Outcome, plan_prices

GRID_POINTS = 41
"""Prices per row for the attainable profit u_i (the oracle plan's grid size)."""
SCALE_BANDS = ("small", "mid", "large")
"""Business scale tertiles over customers."""
ALL_CUSTOMERS = "all customers"
"""The one segment of candidates built without customer features."""


def customer_segments(customers: pl.DataFrame) -> pl.DataFrame:
    """customer_id -> segment: the customer type and the tertile of `business_scale` over
    customers. Reads `customer_features` (the type's one-hot columns) or the raw
    `customers` table (its `customer_type` column)."""
    if "business_scale" not in customers.columns or not _has_type(customers):
        raise ValueError("customer_features: segments need business_scale and the "
                         f"customer_type__* indicator columns; got {customers.columns}")
    scale = customers["business_scale"].cast(pl.Float64)
    scale = scale.fill_null(scale.median()).to_numpy()
    edges = np.quantile(scale, [1 / 3, 2 / 3])
    band = np.asarray(SCALE_BANDS)[np.searchsorted(edges, scale, side="right")]
    kind = _customer_types(customers)
    return customers.select("customer_id").with_columns(
        segment=pl.Series([f"{k} / {b}" for k, b in zip(kind, band, strict=True)]))


def _has_type(customers: pl.DataFrame) -> bool:
    return "customer_type" in customers.columns or any(
        c.startswith("customer_type__") for c in customers.columns)


def _customer_types(customers: pl.DataFrame) -> list[str]:
    """The type slug of each customer (the one-hot column set to 1, or the raw text)."""
    if "customer_type" in customers.columns:
        return [column_slug(t) for t in customers["customer_type"].fill_null("(missing)")]
    types = [c for c in customers.columns if c.startswith("customer_type__")]
    names = [t.removeprefix("customer_type__") for t in types]
    return [names[i] for i in customers.select(types).to_numpy().argmax(axis=1)]


@dataclass(frozen=True)
class Attainable:
    """Per row: the best value u_i the demand model allows in [cost, list], at which price."""

    value: np.ndarray
    price: np.ndarray


def attainable(cand: Candidates, eta: float) -> Attainable:
    """u_i and its price: the best of the grid and the usual price (0 where none is
    positive); `eta` weighs (p − p*)² as Φ does."""
    cost, top, usual = (cand.columns[c] for c in ("cost", "list_price", "usual_price"))
    steps = np.linspace(0.0, 1.0, GRID_POINTS)
    prices = np.column_stack([cost[:, None] + (top - cost)[:, None] * steps[None, :],
                              np.clip(usual, cost, top)])
    value = np.stack([(p - cost) * cand.response.units(p) - eta * (p - usual) ** 2
                      for p in prices.T], axis=1)
    best = value.argmax(axis=1)
    rows = np.arange(cand.height)
    return Attainable(np.maximum(value[rows, best], 0.0), prices[rows, best])


def segment_labels(cand: Candidates) -> np.ndarray:
    """Each row's segment (`ALL_CUSTOMERS` when the candidates carry none)."""
    if "segment" not in cand.rows.columns:
        return np.full(cand.height, ALL_CUSTOMERS, dtype=object)
    return cand.rows["segment"].to_numpy()


def segment_losses(out: Outcome, cand: Candidates, best: Attainable) -> pl.DataFrame:
    """segment, rows, the rule's value and profit, the attainable value, loss L(c); worst
    segment first."""
    frame = pl.DataFrame({"segment": segment_labels(cand), "attainable": best.value,
                          "value": out.row_value, "profit": out.row_profit})
    return (frame.group_by("segment")
            .agg(rows=pl.len(), attainable=pl.col("attainable").sum(),
                 value=pl.col("value").sum(), profit=pl.col("profit").sum())
            .with_columns(loss=pl.when(pl.col("attainable") > 0)
                          .then(1.0 - pl.col("value") / pl.col("attainable")).otherwise(0.0))
            .sort(["loss", "segment"], descending=[True, False]))


def overall_loss(out: Outcome, best: Attainable) -> float:
    """The same relative shortfall over all rows."""
    total = float(best.value.sum())
    return 1.0 - float(out.row_value.sum()) / total if total > 0 else 0.0


def loss_by_segment(losses: pl.DataFrame) -> dict[str, float]:
    return dict(zip(losses["segment"], losses["loss"], strict=True))


def failing(losses: pl.DataFrame, tau: float, limit: int) -> pl.DataFrame:
    """C_fail = {c | L(c) > τ}, the `limit` worst."""
    return losses.filter(pl.col("loss") > tau).head(limit)


def worst_examples(program: Program, out: Outcome, cand: Candidates, best: Attainable,
                   segments: list[str], limit: int) -> list[str]:
    """The rows of `segments` where the rule leaves most value behind, as prompt lines."""
    labels = segment_labels(cand)
    shortfall = np.where(np.isin(labels, segments), best.value - out.row_value, -np.inf)
    rows = [int(i) for i in np.argsort(-shortfall)[:limit] if np.isfinite(shortfall[i])]
    decisions = decide(program, cand.columns)
    price = plan_prices(decisions, cand)
    categories = (cand.rows["primary_category"].to_list()
                  if "primary_category" in cand.rows.columns else ["?"] * cand.height)
    col = cand.columns
    return [f"{labels[i]}, {categories[i]}: cost {col['cost'][i]:.2f}, list "
            f"{col['list_price'][i]:.2f}, usual {col['usual_price'][i]:.2f}, hist_units "
            f"{col['hist_units'][i]:.1f}, elasticity {col['elasticity'][i]:.2f}; the rule "
            + (f"stocks at {price[i]:.2f}" if decisions.stock[i] else "does not stock")
            + f" for value {out.row_value[i]:.1f}; best {best.value[i]:.1f} at "
            f"{best.price[i]:.2f}" for i in rows]
