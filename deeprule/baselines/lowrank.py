"""Low-rank bandit pricing (the paper's `lowrank` baseline, the OPOK/OPOL idea).

Reference: J. Mueller, V. Syrgkanis, M. Taddy, "Low-rank bandit methods for
high-dimensional dynamic pricing", NeurIPS 2019. Demand of the N products is

    q_t = U z_t − U V_t Uᵀ p_t + ε_t,   U ∈ R^{N×d}, d ≪ N,

so revenue depends on prices only through x = Uᵀp; OPOL learns the latent product
subspace U by an online SVD of the observed demand vectors and searches prices in
that d-dimensional projected space, where the objective is a concave quadratic.

Here the products are the plan month's SKUs, priced per SKU (the same price for
every customer) as a ratio r of the list price in [cost/list, 1]; a round posts
r, the market answers sampled units per pair, q_t is the SKU totals (scaled by
list price so rᵀq is revenue up to a constant). Each round: Û = the top-d left
singular vectors of every demand vector seen (history months, then rounds); the
projected model y = Ûᵀq = z − V Ûᵀr is refit by least squares (older rounds
down-weighted); the centre price moves to the model's optimum within a trust
region; the posted price is the centre plus a perturbation δ₀ t^(−1/4) along a
random direction of the subspace (the exploration). Simplified against the
paper: OPOK/OPOL step by a one-point gradient estimate (Flaxman et al.); this fits
the projected quadratic instead and moves to its optimum (certainty equivalence
with forced exploration, the same projected space and exploration geometry).
Per-pair expected units for the plan: the model's SKU demand at the final price
split by each customer's share of that SKU's sampled units over the rounds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy.optimize import LinearConstraint, minimize

from deeprule.baselines.common import Market, PlanMonth, Pricing, pair_history, sku_index


@dataclass(frozen=True)
class LowRankSettings:
    """OPOL-style low-rank bandit; defaults chosen for a few dozen to a few hundred SKUs."""

    rank: int = 3
    """d: dimension of the latent product subspace."""
    rounds: int = 60
    """Market rounds (the paper's market-response simulation)."""
    explore: float = 0.08
    """δ₀: perturbation size per SKU (price / list units); round t uses δ₀ t^(−1/4)."""
    step: float = 0.05
    """Trust region: the centre price moves at most this much per SKU per round."""
    forget: float = 0.98
    """Weight of a round in the model fit decays by this factor per later round."""
    ridge: float = 1e-6
    """Ridge on the projected regression and floor of the model's curvature."""
    objective: str = "profit"
    seed: int = 0


@dataclass(frozen=True)
class ProductMarket:
    """The bandit's view: SKU of each candidate row, list price, price box and start price
    per SKU (ratios of list price), and past demand vectors (rows: months) for the SVD."""

    sku: np.ndarray
    list_price: np.ndarray
    low: np.ndarray
    high: np.ndarray
    start: np.ndarray
    cost_ratio: np.ndarray
    past_demand: np.ndarray


@dataclass(frozen=True)
class BanditResult:
    """Final price ratio per SKU, the model's expected SKU units there, the subspace and the
    per-pair share of each SKU's sampled units."""

    ratio: np.ndarray
    sku_units: np.ndarray
    basis: np.ndarray
    pair_share: np.ndarray
    posted: np.ndarray


def product_market(month: PlanMonth) -> ProductMarket:
    """SKU-level inputs from the plan month: prices in [cost, list], start at the SKU's
    sales-weighted usual price, past demand = units per SKU and history month."""
    skus, sku = sku_index(month)
    first = np.unique(sku, return_index=True)[1]
    list_price, cost = month.list_price[first], month.cost[first]
    usual = pair_history(month)["usual_price"].to_numpy() / month.list_price
    weight = pair_history(month)["hist_units"].to_numpy() + 1e-9
    start = np.bincount(sku, weights=usual * weight) / np.bincount(sku, weights=weight)
    past = (month.history.filter(pl.col("sku_id").is_in(skus))
            .group_by("month", "sku_id").agg(pl.col("units").sum()))
    months = sorted(past["month"].unique().to_list())
    demand = np.zeros((len(months), len(skus)))
    m = past["month"].replace_strict(months, list(range(len(months))),
                                     return_dtype=pl.Int64).to_numpy()
    s = past["sku_id"].replace_strict(skus, list(range(len(skus))),
                                      return_dtype=pl.Int64).to_numpy()
    demand[m, s] = past["units"].to_numpy()
    low = np.minimum(cost / list_price, 1.0)
    return ProductMarket(sku, list_price, low, np.ones(len(skus)),
                         np.clip(start, low, 1.0), cost / list_price, demand)


def lowrank_pricing(month: PlanMonth, market: Market,
                    settings: LowRankSettings | None = None) -> Pricing:
    """Learn SKU prices on the market, then price every candidate row at its SKU's price."""
    settings = settings or LowRankSettings()
    products = product_market(month)
    result = run_bandit(products, market, settings)
    sku = products.sku
    units = result.sku_units[sku] * result.pair_share
    price = result.ratio[sku] * month.list_price
    return Pricing(price, units, units > 0, {
        "rounds": settings.rounds, "rank": result.basis.shape[1],
        "mean_price_ratio": float(result.ratio.mean())})


def run_bandit(products: ProductMarket, market: Market, settings: LowRankSettings
               ) -> BanditResult:
    """The bandit loop: post, observe sampled units, update the subspace and the model."""
    rng = np.random.default_rng(settings.seed)
    n = len(products.list_price)
    rank = max(1, min(settings.rank, n))
    scale = products.list_price / max(float((products.past_demand
                                              @ products.list_price).mean()), 1.0)
    gain = products.cost_ratio if settings.objective == "profit" else np.zeros(n)
    moment = (products.past_demand * scale).T @ (products.past_demand * scale)
    centre = products.start.copy()
    posted, seen = [], []
    pair_units = np.zeros(len(products.sku))
    basis = _top_vectors(moment, rank)
    for t in range(1, settings.rounds + 1):
        direction = basis @ _unit_sphere(rng, rank)
        size = settings.explore * t ** -0.25 * np.sqrt(n)
        ratio = np.clip(centre + size * direction, products.low, products.high)
        units = market.respond(ratio[products.sku] * products.list_price[products.sku])
        pair_units += units
        q = np.bincount(products.sku, weights=units, minlength=n) * scale
        posted.append(ratio)
        seen.append(q)
        moment += np.outer(q, q)
        basis = _top_vectors(moment, rank)
        if t > rank + 1:
            z, v = _fit_projected(basis, np.array(posted), np.array(seen), settings)
            centre = _best_centre(basis, z, v, centre, gain, products, settings)
    z, v = _fit_projected(basis, np.array(posted), np.array(seen), settings)
    demand = np.maximum(basis @ (z - v @ (basis.T @ centre)), 0.0) / scale
    total = np.bincount(products.sku, weights=pair_units, minlength=n)
    share = np.divide(pair_units, total[products.sku], out=np.zeros_like(pair_units),
                      where=total[products.sku] > 0)
    return BanditResult(centre, demand, basis, share, np.array(posted))


def _unit_sphere(rng: np.random.Generator, dim: int) -> np.ndarray:
    draw = rng.normal(size=dim)
    return draw / np.linalg.norm(draw)


def _top_vectors(moment: np.ndarray, rank: int) -> np.ndarray:
    """Top-`rank` eigenvectors of the demand second moment (the online SVD's Û), sign-fixed."""
    values, vectors = np.linalg.eigh(moment)
    top = vectors[:, np.argsort(values)[::-1][:rank]]
    return top * np.where(top.sum(axis=0) < 0, -1.0, 1.0)


def _fit_projected(basis: np.ndarray, posted: np.ndarray, seen: np.ndarray,
                   settings: LowRankSettings) -> tuple[np.ndarray, np.ndarray]:
    """(z, V) of y = z − V x with x = Ûᵀr, y = Ûᵀq, by weighted ridge least squares."""
    x, y = posted @ basis, seen @ basis
    weight = settings.forget ** np.arange(len(x))[::-1]
    design = np.c_[np.ones(len(x)), x]
    gram = design.T @ (design * weight[:, None]) + settings.ridge * np.eye(design.shape[1])
    coef = np.linalg.solve(gram, design.T @ (y * weight[:, None]))
    return coef[0], -coef[1:].T


def _best_centre(basis: np.ndarray, z: np.ndarray, v: np.ndarray, centre: np.ndarray,
                 gain: np.ndarray, products: ProductMarket, settings: LowRankSettings
                 ) -> np.ndarray:
    """The projected model's best price within the box and the trust region around `centre`.

    f(x) = (x − g)ᵀ(z − V x) with x = Ûᵀr, g = Ûᵀ(cost ratio) for profit (0 for revenue);
    the search moves r = centre + Û u, so prices stay in the learned subspace's directions.
    Curvature is floored so the quadratic is concave (a noisy V may not be).
    """
    sym = (v + v.T) / 2
    values, vectors = np.linalg.eigh(sym)
    floor = max(settings.ridge, 1e-3 * float(np.abs(values).max(initial=0.0)))
    concave = (vectors * np.maximum(values, floor)) @ vectors.T
    x0, g = basis.T @ centre, basis.T @ gain

    def negative(u: np.ndarray) -> float:
        x = x0 + u
        return -float((x - g) @ z + g @ v @ x - x @ concave @ x)

    def slope(u: np.ndarray) -> np.ndarray:
        x = x0 + u
        return -(z + v.T @ g - 2 * concave @ x)

    low = np.maximum(products.low, centre - settings.step) - centre
    high = np.minimum(products.high, centre + settings.step) - centre
    found = minimize(negative, np.zeros(basis.shape[1]), jac=slope, method="SLSQP",
                     constraints=[LinearConstraint(basis, low, high)])
    return np.clip(centre + basis @ found.x, products.low, products.high)
