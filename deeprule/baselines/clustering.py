"""Context-based dynamic pricing with online clustering (the paper's `context-based` baseline).

Reference: S. Miao, X. Chen, X. Chao, J. Liu, Y. Zhang, "Context-based dynamic
pricing with online clustering", Production and Operations Management, 2022.
Demand of product i follows a GLM E[d] = μ(αᵢᵀx + βᵢp); products whose
estimated parameters are close (within their confidence bounds) form a
neighbourhood whose data are pooled; each product is priced at the
neighbourhood's semi-myopic optimum plus a perturbation ±Δ₀·T̃^(−1/4), T̃ the
neighbourhood's number of observations, so the price keeps being informative.

Here a product is a SKU priced per SKU as a ratio r of its list price; a round
posts one ratio per SKU to every customer and observes sampled units per pair;
μ = exp (Poisson), the context x of a pair is (log(1 + the pair's historical
monthly units), log(1 + the customer's monthly units in the SKU's category)),
standardized, and each SKU keeps its own intercept (its base level), so clusters
pool the response parameters: context slopes s and price sensitivity β. Because
a round's price is common to the SKU's customers, the intercept profiles out and
the log-likelihood splits into a β part that needs only per-round totals and an s
part that needs only the pairs' contexts (exact MLE, no per-round pair data kept).
Simplified against the paper: clusters are the connected components of the
"close" graph (|θ̂ᵢ − θ̂ⱼ| ≤ κ(seᵢ + seⱼ) in every coordinate) rather than one
neighbourhood per product, and perturbation signs alternate per round. The
semi-myopic price of exp demand is closed-form: r = cost/list − 1/β (profit) or
−1/β (revenue), held to [cost/list, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy.sparse.csgraph import connected_components

from deeprule.baselines.common import Market, PlanMonth, Pricing, pair_history, sku_index


@dataclass(frozen=True)
class ClusteringSettings:
    """Online-clustering GLM pricing; Δ₀ and κ as the reference's tuning constants."""

    rounds: int = 60
    """Market rounds (the paper's market-response simulation)."""
    delta0: float = 0.1
    """Δ₀: perturbation size (price / list units) before the T̃^(−1/4) decay."""
    confidence: float = 2.0
    """κ: products are close when every parameter differs by at most κ(seᵢ + seⱼ)."""
    ridge: float = 1e-4
    """Ridge on each fit (keeps a product with no price variation yet finite)."""
    prior_beta: float = -2.0
    """Where the ridge pulls β (per unit of price / list) before data speak."""
    objective: str = "profit"
    seed: int = 0


@dataclass(frozen=True)
class ClusterProblem:
    """SKU of each candidate row, its standardized context, and per SKU: list price, price
    box, cost ratio and start ratio."""

    sku: np.ndarray
    context: np.ndarray
    list_price: np.ndarray
    low: np.ndarray
    high: np.ndarray
    cost_ratio: np.ndarray
    start: np.ndarray


@dataclass(frozen=True)
class ClusterResult:
    """Final ratio per SKU, cluster label per SKU, expected units per row at the final
    price, and the final estimates (β, slopes) per SKU's cluster."""

    ratio: np.ndarray
    labels: np.ndarray
    units: np.ndarray
    beta: np.ndarray
    slopes: np.ndarray


@dataclass
class _Stats:
    """Sufficient statistics: posted ratios and total units per round and SKU, and
    Σ units · context per SKU."""

    posted: list[np.ndarray]
    totals: list[np.ndarray]
    weighted_context: np.ndarray


def cluster_problem(month: PlanMonth) -> ClusterProblem:
    """Contexts and SKU-level price boxes from the plan month's candidates and history."""
    _, sku = sku_index(month)
    past = pair_history(month)
    per_category = (month.history.join(month.skus.select("sku_id", "primary_category"),
                                       on="sku_id", how="left")
                    .group_by("customer_id", "primary_category")
                    .agg(cat_units=pl.col("units").sum() / month.history_months))
    cat_units = (month.rows.select("customer_id", "primary_category")
                 .join(per_category, on=["customer_id", "primary_category"], how="left",
                       maintain_order="left")["cat_units"].fill_null(0).to_numpy())
    raw = np.c_[np.log1p(past["hist_units"].to_numpy()), np.log1p(cat_units)]
    context = (raw - raw.mean(axis=0)) / np.maximum(raw.std(axis=0), 1e-9)
    first = np.unique(sku, return_index=True)[1]
    list_price, cost = month.list_price[first], month.cost[first]
    low = np.minimum(cost / list_price, 1.0)
    usual = past["usual_price"].to_numpy() / month.list_price
    weight = past["hist_units"].to_numpy() + 1e-9
    start = np.bincount(sku, weights=usual * weight) / np.bincount(sku, weights=weight)
    return ClusterProblem(sku, context, list_price, low, np.ones(len(first)),
                          cost / list_price, np.clip(start, low, 1.0))


def clustering_pricing(month: PlanMonth, market: Market,
                       settings: ClusteringSettings | None = None) -> Pricing:
    """Learn clusters and prices on the market; price every row at its SKU's ratio."""
    settings = settings or ClusteringSettings()
    problem = cluster_problem(month)
    result = run_clustering(problem, market, settings)
    price = result.ratio[problem.sku] * month.list_price
    return Pricing(price, result.units, result.units > 0, {
        "rounds": settings.rounds, "clusters": int(result.labels.max()) + 1,
        "mean_price_ratio": float(result.ratio.mean())})


def run_clustering(problem: ClusterProblem, market: Market, settings: ClusteringSettings
                   ) -> ClusterResult:
    """The online loop: estimate, cluster, post semi-myopic prices ± perturbation, observe."""
    rng = np.random.default_rng(settings.seed)
    n = len(problem.list_price)
    sign = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    stats = _Stats([], [], np.zeros((n, problem.context.shape[1])))
    labels, ratio = np.arange(n), problem.start.copy()
    for t in range(settings.rounds):
        if t >= 2:
            labels, beta, _ = _estimate(problem, stats, settings)
            ratio = _semi_myopic(problem, beta, settings.objective)
        observations = np.bincount(labels, minlength=n)[labels] * max(t, 1)
        offset = sign * settings.delta0 * observations ** -0.25
        posted = np.clip(ratio + offset, problem.low, problem.high)
        sign = -sign
        units = market.respond(posted[problem.sku] * problem.list_price[problem.sku])
        stats.posted.append(posted)
        stats.totals.append(np.bincount(problem.sku, weights=units, minlength=n))
        np.add.at(stats.weighted_context, problem.sku, units[:, None] * problem.context)
    labels, beta, slopes = _estimate(problem, stats, settings)
    ratio = _semi_myopic(problem, beta, settings.objective)
    return ClusterResult(ratio, labels, _expected_units(problem, stats, beta, slopes, ratio),
                         beta, slopes)


def _estimate(problem: ClusterProblem, stats: _Stats, settings: ClusteringSettings
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(cluster label, pooled β, pooled slopes) per SKU: per-SKU fits, the close graph, then
    one pooled fit per connected component."""
    n = len(problem.list_price)
    posted, totals = np.array(stats.posted), np.array(stats.totals)
    own = [_fit(problem, posted, totals, stats, np.array([i]), settings) for i in range(n)]
    theta = np.array([np.r_[b, s] for b, s, _ in own])
    se = np.array([e for _, _, e in own])
    close = np.all(np.abs(theta[:, None] - theta[None]) <= settings.confidence
                   * (se[:, None] + se[None]), axis=2)
    _, labels = connected_components(close, directed=False)
    beta, slopes = np.zeros(n), np.zeros((n, problem.context.shape[1]))
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        b, s, _ = _fit(problem, posted, totals, stats, members, settings)
        beta[members], slopes[members] = b, s
    return labels, beta, slopes


def _fit(problem: ClusterProblem, posted: np.ndarray, totals: np.ndarray, stats: _Stats,
         members: np.ndarray, settings: ClusteringSettings
         ) -> tuple[float, np.ndarray, np.ndarray]:
    """Pooled MLE of (β, slopes) over `members` (own intercepts profiled out), and the
    standard errors of (β, slopes) from the observed information."""
    beta, beta_info = _fit_beta(posted[:, members], totals[:, members], settings)
    rows = np.isin(problem.sku, members)
    slopes, slope_info = _fit_slopes(problem.context[rows], problem.sku[rows],
                                     stats.weighted_context, totals.sum(axis=0), members,
                                     settings.ridge)
    se = np.r_[1 / np.sqrt(beta_info), np.sqrt(np.diag(np.linalg.inv(slope_info)))]
    return beta, slopes, se


def _fit_beta(posted: np.ndarray, totals: np.ndarray, settings: ClusteringSettings
              ) -> tuple[float, float]:
    """Maximize Σᵢ [β Σₜ yᵢₜrᵢₜ − Yᵢ log Σₜ exp(β rᵢₜ)] − ridge/2 (β − prior)² by Newton;
    (β, observed information)."""
    beta = settings.prior_beta
    total = totals.sum(axis=0)
    info = settings.ridge
    for _ in range(50):
        weight = np.exp(beta * posted - (beta * posted).max(axis=0))
        weight /= weight.sum(axis=0)
        mean = (weight * posted).sum(axis=0)
        var = (weight * (posted - mean) ** 2).sum(axis=0)
        grad = float((totals * posted).sum() - (total * mean).sum()
                     - settings.ridge * (beta - settings.prior_beta))
        info = float((total * var).sum()) + settings.ridge
        move = grad / info
        beta += float(np.clip(move, -2.0, 2.0))
        if abs(move) < 1e-9:
            break
    return beta, info


def _fit_slopes(context: np.ndarray, sku: np.ndarray, weighted: np.ndarray, total: np.ndarray,
                members: np.ndarray, ridge: float) -> tuple[np.ndarray, np.ndarray]:
    """Maximize Σᵢ [sᵀ Σ yx − Yᵢ log Σₖ exp(sᵀxₖ)] − ridge/2 |s|² by Newton; (s, information)."""
    dim = context.shape[1]
    slopes = np.zeros(dim)
    local = np.searchsorted(members, sku)
    info = ridge * np.eye(dim)
    for _ in range(50):
        score = context @ slopes
        weight = np.exp(score - score.max())
        mass = np.bincount(local, weights=weight, minlength=len(members))
        first = np.stack([np.bincount(local, weights=weight * context[:, j],
                                      minlength=len(members)) for j in range(dim)], axis=1)
        second = np.einsum("r,ri,rj->rij", weight, context, context)
        second = np.stack([second[local == m].sum(axis=0) for m in range(len(members))])
        safe = np.maximum(mass, 1e-300)
        mean = first / safe[:, None]
        cov = second / safe[:, None, None] - np.einsum("mi,mj->mij", mean, mean)
        grad = weighted[members].sum(axis=0) - (total[members, None] * mean).sum(axis=0)
        grad -= ridge * slopes
        info = (total[members, None, None] * cov).sum(axis=0) + ridge * np.eye(dim)
        move = np.linalg.solve(info, grad)
        slopes += np.clip(move, -2.0, 2.0)
        if np.abs(move).max() < 1e-9:
            break
    return slopes, info


def _semi_myopic(problem: ClusterProblem, beta: np.ndarray, objective: str) -> np.ndarray:
    """argmax (r − cost ratio)·exp(βr) (profit) or r·exp(βr) (revenue), held to the box."""
    floor = problem.cost_ratio if objective == "profit" else np.zeros_like(beta)
    best = np.where(beta < -1e-6, floor - 1.0 / np.minimum(beta, -1e-6), problem.high)
    return np.clip(best, problem.low, problem.high)


def _expected_units(problem: ClusterProblem, stats: _Stats, beta: np.ndarray,
                    slopes: np.ndarray, ratio: np.ndarray) -> np.ndarray:
    """exp(aᵢ + sᵀx + β r) per row, aᵢ the SKU's profiled intercept under its cluster's fit."""
    posted, totals = np.array(stats.posted), np.array(stats.totals).sum(axis=0)
    sku = problem.sku
    score = np.einsum("rj,rj->r", problem.context, slopes[sku])
    mass = np.bincount(sku, weights=np.exp(score), minlength=len(beta))
    rounds = np.exp(beta[None] * posted).sum(axis=0)
    level = np.divide(totals, mass * rounds, out=np.zeros_like(totals), where=mass * rounds > 0)
    return level[sku] * np.exp(score + beta[sku] * ratio[sku])
