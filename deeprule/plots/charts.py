"""The figures: each takes plain arrays / frames and returns a matplotlib Figure."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import numpy as np
import polars as pl
from matplotlib.figure import Figure
from matplotlib.patches import Circle

DPI = 80
"""Small PNGs (tens of KB): they travel inside each materialization's metadata."""
MAP_POINTS = 20_000
"""Stores drawn on the map at most (a seeded sample beyond that)."""


def to_png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    return buffer.getvalue()


def price_response_curves(ratios: np.ndarray, units: Mapping[str, np.ndarray]) -> Figure:
    """Expected units against price / list price, one line per customer x SKU pair."""
    fig = Figure(figsize=(6, 3.6))
    ax = fig.add_subplot()
    for label, values in units.items():
        ax.plot(ratios, values, marker="o", markersize=3, label=label)
    ax.set(xlabel="price / list price", ylabel="expected units",
           title="Demand model: price response (never rises with price)")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return fig


def elasticity_scatter(cells: Mapping[str, pl.DataFrame]) -> Figure:
    """Model vs true elasticity per customer x category, one panel per model."""
    fig = Figure(figsize=(4 * len(cells), 3.8))
    for i, (model, frame) in enumerate(cells.items()):
        ax = fig.add_subplot(1, len(cells), i + 1)
        true, predicted = frame["true"].to_numpy(), frame["predicted"].to_numpy()
        ax.scatter(true, predicted, s=6, alpha=0.5)
        low, high = float(np.nanmin(true)), float(np.nanmax(true))
        ax.plot([low, high], [low, high], color="grey", linewidth=1, linestyle="--")
        ax.set(xlabel="true elasticity", ylabel="model elasticity", title=model)
        ax.grid(alpha=0.3)
    fig.suptitle("Elasticity per customer x category: model vs simulator truth", y=1.03)
    return fig


def affiliation_map(stores: pl.DataFrame, covered: np.ndarray, customers: pl.DataFrame,
                    radius_km: np.ndarray) -> Figure:
    """Stores (covered or not) and customers with their operational radius."""
    rng = np.random.default_rng(0)
    keep = np.sort(rng.choice(stores.height, min(MAP_POINTS, stores.height), replace=False))
    lat, lon = stores["latitude"].to_numpy()[keep], stores["longitude"].to_numpy()[keep]
    fig = Figure(figsize=(6.5, 5))
    ax = fig.add_subplot()
    inside = covered[keep]
    ax.scatter(lon[~inside], lat[~inside], s=2, color="lightgrey", label="store, not covered")
    ax.scatter(lon[inside], lat[inside], s=2, color="tab:blue", label="store, affiliated")
    c_lat, c_lon = customers["latitude"].to_numpy(), customers["longitude"].to_numpy()
    degrees = radius_km / 111.0  # a circle in degrees of latitude: fine for a picture
    for y, x, r in zip(c_lat, c_lon, degrees, strict=True):
        ax.add_patch(_circle(x, y, r))
    ax.scatter(c_lon, c_lat, s=8, color="tab:red", label="customer")
    ax.set(xlabel="longitude", ylabel="latitude",
           title=f"Affiliation: {int(covered.sum()):,} of {len(covered):,} stores covered")
    ax.legend(fontsize=7, loc="best", markerscale=3)
    return fig


def _circle(x: float, y: float, r: float) -> Circle:
    return Circle((x, y), r, fill=False, linewidth=0.4, color="tab:red", alpha=0.4)


def metric_bars(labels: Sequence[str], values: Sequence[float], title: str) -> Figure:
    """Horizontal bars in [0, 1], one per labelled metric."""
    fig = Figure(figsize=(6, 0.3 * len(labels) + 1))
    ax = fig.add_subplot()
    ax.barh(list(labels), [0.0 if v is None else v for v in values], color="tab:blue")
    ax.set(xlim=(0, 1), title=title)
    ax.invert_yaxis()
    ax.tick_params(axis="y", labelsize=7)
    ax.grid(axis="x", alpha=0.3)
    return fig


def fitness_trace(numbers: Sequence[int], fitness: Sequence[float | None]) -> Figure:
    """Each iteration's fitness (failed ones left out) and the best so far."""
    fig = Figure(figsize=(6, 3.4))
    ax = fig.add_subplot()
    points = [(n, f) for n, f in zip(numbers, fitness, strict=True) if f is not None]
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    ax.scatter(xs, ys, s=18, label="proposal, constants fitted")
    ax.step(xs, np.maximum.accumulate(ys), where="post", color="tab:green", label="best so far")
    ax.set(xlabel="iteration (0 = expert rule)", ylabel="fitness Φ",
           title="Rule search: fitness by iteration")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return fig


def sales_profit_scatter(methods: Sequence[str], units: Sequence[float],
                         profit: Sequence[float]) -> Figure:
    """Each method's realized units against its realized profit (the paper's Table 1 as a
    picture: up and to the right is better)."""
    fig = Figure(figsize=(6.4, 4.2))
    ax = fig.add_subplot()
    ax.scatter(units, profit, s=30, color="tab:blue")
    for name, x, y in zip(methods, units, profit, strict=True):
        ax.annotate(name, (x, y), fontsize=6, xytext=(3, 3), textcoords="offset points")
    ax.set(xlabel="realized units (true demand)", ylabel="realized profit (true demand)",
           title="Methods on the plan month: sales vs profit")
    ax.grid(alpha=0.3)
    return fig


def convergence_curves(curves: Mapping[str, tuple[Sequence[int], Sequence[float],
                                                   Sequence[float]]]) -> Figure:
    """Per searcher (label -> iterations, best fitness so far, profit its best rule so far
    realizes under the true demand): how fast each search climbs, on both measures."""
    fig = Figure(figsize=(9, 3.6))
    fitness_ax, profit_ax = fig.subplots(1, 2)
    for label, (numbers, fitness, profit) in curves.items():
        fitness_ax.step(numbers, fitness, where="post", label=label)
        profit_ax.step(numbers, profit, where="post", label=label)
    fitness_ax.set(xlabel="iteration", ylabel="best fitness Φ so far (model)",
                   title="Best fitness by iteration")
    profit_ax.set(xlabel="iteration", ylabel="realized profit (true demand)",
                  title="Its rule's realized profit")
    for ax in (fitness_ax, profit_ax):
        ax.grid(alpha=0.3)
    profit_ax.legend(fontsize=6)
    return fig
