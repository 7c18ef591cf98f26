"""Systematic B2B recommendation: mixed logit + nonlinear programming (the paper's `b2b`).

Reference: the paper's "B2B Product Offers with Machine Learning, Mixed Logit, and
Nonlinear Programming" (its key `b2b`): customers are segmented, customer c's utility
for offer j is U_cj = k_j + x_cj β_c + ε_cj with β_c random within the segment,
choice probabilities are logit, and segment-level offer terms maximize expected
net revenue Σ_c Prob_c,o × Loyalty_c × Σ_m NetRevenue_m / (1 + d/12)^m by NLP.

Here an offer is a SKU of a primary category at a price ratio r = price / list; a
choice situation is a customer's month in a category it bought in; each unit
shipped is a choice among the category's launched SKUs and an outside option
(utility 0) that takes the rest of a market size M = `market_factor` × the
customer's largest monthly units in that category. U = k_j + β_c r with
β_c ~ N(b_s, σ_s²) for the customer's segment s (segments: quantiles of historical
monthly revenue) and the same draw for all of a customer's situations (panel
mixed logit), fitted by simulated maximum likelihood (fixed normal draws, torch
gradients, L-BFGS). Prices: per segment and category, the ratios maximizing the
expected margin E_β[Σ_j P_j(r) (r_j·list_j − cost_j)] by SLSQP within [cost/list, 1].
Simplified against the paper: one month (no loyalty, no discounting over a
contract term), one random coefficient (price), and segments by revenue
quantiles instead of a learned segmentation. A customer's expected units of a
SKU: M × P_j at its segment's prices (0 outside the categories it bought in).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
import torch
from scipy.optimize import minimize
from scipy.stats import norm

from deeprule.baselines.common import PlanMonth, Pricing, margin_of, sku_index


@dataclass(frozen=True)
class MixedLogitSettings:
    """Mixed logit fitted by simulated maximum likelihood; segment prices by SLSQP."""

    segments: int = 3
    """Customer segments (quantiles of historical monthly revenue)."""
    draws: int = 50
    """Simulation draws of the random price coefficient per customer."""
    market_factor: float = 1.5
    """Market size per customer and category: this times its largest monthly units there."""
    ridge: float = 1e-3
    """Ridge on the SKU constants (keeps a never-chosen SKU finite)."""
    max_iterations: int = 300
    tolerance: float = 1e-8
    """L-BFGS stops when the relative fall of the negative log-likelihood is below this."""
    fit_customers: int = 600
    """Most customers whose choices the likelihood is fitted on (drawn at random, seeded):
    its cost grows with their situations x alternatives x draws, and a few hundred
    customers per segment pin the segment-level coefficients. `demo` (200) and `tiny` fit
    on every customer; `paper` (2,362) on 600 (all of them: over 25 min of L-BFGS on 2
    busy cores, unfinished)."""
    history_months: int = 12
    """Most recent months of shipments the choices are fitted on: the likelihood's cost
    grows with them, and older months tell less about this month's prices. Segments and
    market sizes still read the whole history (a customer quiet this last year is still
    planned). `demo` (12 months in all) and `tiny` fit on every month; `paper` (61) on
    its last year."""
    chunk_elements: int = 20_000_000
    """Most (situations x alternatives x draws) values the likelihood holds at once: it is
    summed over chunks of whole customers, so memory stays ~1 GB whatever the history
    (`paper` has ~850k situations: in one piece, 12 GB for one tensor)."""
    threads: int = 1
    """Torch threads of the fit (small tensors: more threads cost more than they save on a
    shared machine, 12x slower with 2 measured under load)."""
    objective: str = "profit"
    seed: int = 0


@dataclass(frozen=True)
class ChoiceData:
    """Alternative rows (situation, SKU, price ratio, units chosen), per situation the
    outside units and the customer, and per customer its segment."""

    situation: np.ndarray
    sku: np.ndarray
    ratio: np.ndarray
    count: np.ndarray
    outside: np.ndarray
    customer: np.ndarray
    segment: np.ndarray
    n_skus: int


@dataclass(frozen=True)
class MixedLogitFit:
    """SKU constants k_j, per segment mean b_s and spread σ_s of the price coefficient."""

    constant: np.ndarray
    mean: np.ndarray
    spread: np.ndarray
    loglik: float
    iterations: int


def fit_mixed_logit(data: ChoiceData, settings: MixedLogitSettings) -> MixedLogitFit:
    """Simulated maximum likelihood of the panel mixed logit (L-BFGS on torch gradients).

    Started from the plain logit (spreads 0, a smooth concave fit; one draw, since with
    no spread every draw is the same), as is usual: straight from a guess, the simulated
    likelihood's ridges can send a spread astray.
    """
    n_seg, n_sku = int(data.segment.max()) + 1, data.n_skus
    draws = torch.from_numpy(stratified_normal(len(data.segment), settings.draws,
                                               settings.seed))
    chunks = _tensors(data, settings.chunk_elements // settings.draws)
    segment = torch.from_numpy(np.array(data.segment))

    def loss(theta: np.ndarray, log_spread: np.ndarray | None, draws: torch.Tensor
             ) -> tuple[float, np.ndarray]:
        """The penalized negative log-likelihood and its gradient, summed chunk by chunk (each
        chunk's graph is freed by its own backward pass)."""
        x = torch.tensor(theta, requires_grad=True)

        def coefficients() -> tuple[torch.Tensor, torch.Tensor]:
            k, b = x[:n_sku], x[n_sku:n_sku + n_seg]
            log_s = x[n_sku + n_seg:] if log_spread is None else torch.from_numpy(log_spread)
            return k, b[segment][:, None] + torch.exp(log_s)[segment][:, None] * draws

        ridge = settings.ridge * (x[:n_sku] ** 2).sum() / 2
        ridge.backward()
        total = ridge.item()
        for t in chunks:
            value = -_loglik(*coefficients(), t)
            value.backward()
            total += value.item()
        return total, x.grad.numpy()

    threads = torch.get_num_threads()
    torch.set_num_threads(settings.threads)
    options = {"maxiter": settings.max_iterations, "ftol": settings.tolerance}
    try:
        plain = minimize(loss, np.r_[np.full(n_sku, -2.0), np.full(n_seg, -1.0)], jac=True,
                         method="L-BFGS-B", options=options,
                         args=(np.zeros(n_seg), torch.zeros((len(data.segment), 1),
                                                            dtype=draws.dtype)))
        found = minimize(loss, np.r_[plain.x, np.full(n_seg, np.log(0.5))], jac=True,
                         method="L-BFGS-B", args=(None, draws), options=options)
    finally:
        torch.set_num_threads(threads)
    theta = found.x
    return MixedLogitFit(theta[:n_sku], theta[n_sku:n_sku + n_seg],
                         np.exp(theta[n_sku + n_seg:]), -float(found.fun),
                         int(plain.nit + found.nit))


def subsample(data: ChoiceData, customers: int, seed: int) -> ChoiceData:
    """The choices of at most `customers` customers drawn at random, recoded 0..m-1 (their
    situations kept whole and in order); `data` itself when it has no more."""
    n_customers = len(data.segment)
    if n_customers <= customers:
        return data
    keep = np.sort(np.random.default_rng(seed).choice(n_customers, customers, replace=False))
    code = np.full(n_customers, -1)
    code[keep] = np.arange(customers)
    recoded = code[np.asarray(data.customer)]  # per situation; -1: not drawn
    kept = recoded >= 0
    renumber = np.cumsum(kept) - 1
    rows = kept[data.situation]
    return ChoiceData(renumber[data.situation[rows]], data.sku[rows], data.ratio[rows],
                      data.count[rows], data.outside[kept], recoded[kept],
                      np.asarray(data.segment)[keep], data.n_skus)


def stratified_normal(rows: int, draws: int, seed: int) -> np.ndarray:
    """(rows, draws) standard normal draws, one per stratum of equal probability, each row
    shifted at random (randomized quasi-Monte Carlo: smoother simulated likelihood than
    plain draws when a customer's many choices pin its coefficient down)."""
    shift = np.random.default_rng(seed).random((rows, 1))
    return norm.ppf((np.arange(draws)[None] + shift) / draws)


def _tensors(data: ChoiceData, max_cells: int) -> list[dict[str, torch.Tensor]]:
    """The situations in chunks of whole customers (a customer's draws tie its situations
    together), each at most `max_cells` (situations x alternatives) unless one customer
    alone has more; alternatives padded to the chunk's widest: SKU, ratio, count, mask."""
    n_sit = len(data.outside)
    start = np.searchsorted(data.situation, np.arange(n_sit))
    slot = np.arange(len(data.situation)) - start[data.situation]
    width = np.zeros(n_sit, dtype=np.int64)
    np.maximum.at(width, data.situation, slot + 1)
    customer = np.asarray(data.customer)
    return [_chunk(data, lo, hi, start, slot, width)
            for lo, hi in _customer_chunks(customer, width, max_cells)]


def _customer_chunks(customer: np.ndarray, width: np.ndarray, max_cells: int
                     ) -> list[tuple[int, int]]:
    """[lo, hi) situation ranges cut only where the customer changes (situations are
    ordered by customer), each padded chunk within `max_cells` where possible."""
    bounds = np.flatnonzero(np.r_[True, customer[1:] != customer[:-1], True])
    chunks, lo, widest = [], 0, 0
    for first, last in zip(bounds[:-1], bounds[1:], strict=True):
        block = int(width[first:last].max())
        if first > lo and (last - lo) * max(widest, block) > max_cells:
            chunks.append((lo, int(first)))
            lo, widest = int(first), block
        else:
            widest = max(widest, block)
    return [*chunks, (lo, len(customer))] if len(customer) else chunks


def _chunk(data: ChoiceData, lo: int, hi: int, start: np.ndarray, slot: np.ndarray,
           width: np.ndarray) -> dict[str, torch.Tensor]:
    """Situations [lo, hi) as padded tensors; `customer` keeps the global codes."""
    rows = np.arange(start[lo], start[hi] if hi < len(start) else len(data.situation))
    sit = data.situation[rows] - lo
    padded = {name: np.zeros((hi - lo, int(width[lo:hi].max())), dtype=dtype)
              for name, dtype in (("sku", np.int64), ("ratio", np.float64),
                                  ("count", np.float64), ("mask", bool))}
    for name, values in (("sku", data.sku), ("ratio", data.ratio), ("count", data.count),
                         ("mask", np.ones(len(data.sku), dtype=bool))):
        padded[name][sit, slot[rows]] = values[rows]
    tensors = {name: torch.from_numpy(value) for name, value in padded.items()}
    tensors["units"] = torch.from_numpy(data.outside[lo:hi] + padded["count"].sum(axis=1))
    tensors["customer"] = torch.from_numpy(np.array(data.customer[lo:hi]))
    return tensors


def _loglik(k: torch.Tensor, beta: torch.Tensor, t: dict[str, torch.Tensor]) -> torch.Tensor:
    """Σ_c log mean_r Π (choice probabilities ^ counts) for draws beta (customers x draws).

    The chosen utilities are linear (Σ n k + β Σ n r per situation); only the logit
    denominator needs the (situations, alternatives, draws) tensor.
    """
    draws = beta[t["customer"]]
    constant = k[t["sku"]]
    chosen = ((t["count"] * constant).sum(dim=1)[:, None]
              + draws * (t["count"] * t["ratio"]).sum(dim=1)[:, None])
    utility = constant[..., None] + draws[:, None, :] * t["ratio"][..., None]
    utility = utility.masked_fill(~t["mask"][..., None], -torch.inf)
    peak = utility.detach().amax(dim=1).clamp(min=0.0)
    log_denominator = peak + torch.log(torch.exp(-peak)
                                       + torch.exp(utility - peak[:, None, :]).sum(dim=1))
    per_situation = chosen - t["units"][:, None] * log_denominator
    per_customer = torch.zeros(beta.shape, dtype=utility.dtype).index_add_(
        0, t["customer"], per_situation)
    return (torch.logsumexp(per_customer, dim=1) - np.log(beta.shape[1])).sum()


def choice_probabilities(constant: np.ndarray, ratio: np.ndarray, beta: np.ndarray
                         ) -> np.ndarray:
    """(draws, SKUs) logit probabilities of SKUs with constants and ratios, outside at 0."""
    utility = constant[None] + beta[:, None] * ratio[None]
    peak = np.maximum(utility.max(axis=1, keepdims=True), 0.0)
    weight = np.exp(utility - peak)
    return weight / (np.exp(-peak) + weight.sum(axis=1, keepdims=True))


def segment_prices(constant: np.ndarray, beta: np.ndarray, list_price: np.ndarray,
                   cost: np.ndarray, objective: str) -> np.ndarray:
    """Ratios maximizing E_β[Σ_j P_j(r) margin_j(r)] within [cost/list, 1] by SLSQP."""
    low = np.minimum(cost / list_price, 1.0)

    def negative(ratio: np.ndarray) -> float:
        share = choice_probabilities(constant, ratio, beta)
        return -float((share * margin_of(ratio * list_price, cost, objective)).sum(axis=1)
                      .mean()) / float(list_price.mean())

    start = np.clip(np.full(len(constant), 0.9), low, 1.0)
    found = minimize(negative, start, method="SLSQP", bounds=list(zip(low, np.ones_like(low),
                                                                      strict=True)))
    return np.clip(found.x, low, 1.0)


def choice_data(month: PlanMonth, settings: MixedLogitSettings
                ) -> tuple[ChoiceData, pl.DataFrame, pl.DataFrame]:
    """Choice situations from the history: (data, customers with their segment, market size
    per customer and category). SKU codes follow `sku_index(month)`."""
    skus, _ = sku_index(month)
    catalogue = month.skus.filter(pl.col("sku_id").is_in(skus)).select(
        "sku_id", "primary_category", "launch_month",
        sku=pl.col("sku_id").replace_strict(skus, list(range(len(skus))),
                                            return_dtype=pl.Int64))
    every = (month.history.filter(pl.col("sku_id").is_in(skus))
             .join(catalogue.select("sku_id", "primary_category"), on="sku_id", how="left"))
    customers = _segments(every, settings.segments)
    cell = ["customer_id", "primary_category"]
    size = (every.group_by([*cell, "month"]).agg(units=pl.col("units").sum())
            .group_by(cell).agg(market=pl.col("units").max() * settings.market_factor))
    ship = recent(every, settings.history_months)
    situations = (ship.group_by([*cell, "month"]).agg(
        units=pl.col("units").sum(),
        ratio=(pl.col("unit_price") / pl.col("list_price") * pl.col("units")).sum()
        / pl.col("units").sum().clip(1))
        .filter(pl.col("units") > 0).join(size, on=cell).sort([*cell, "month"])
        .with_row_index("situation"))
    alternatives = (situations.join(catalogue, on="primary_category")
                    .filter(pl.col("launch_month").is_null()
                            | (pl.col("launch_month") <= pl.col("month")))
                    .join(ship.select("customer_id", "month", "sku_id", "units",
                                      own=pl.col("unit_price") / pl.col("list_price")),
                          on=["customer_id", "month", "sku_id"], how="left", suffix="_sku")
                    .sort("situation", "sku"))
    customer_code = situations.join(customers, on="customer_id", how="left")
    data = ChoiceData(
        situation=alternatives["situation"].cast(pl.Int64).to_numpy(),
        sku=alternatives["sku"].to_numpy(),
        ratio=alternatives["own"].fill_null(alternatives["ratio"]).to_numpy(),
        count=alternatives["units_sku"].fill_null(0).cast(pl.Float64).to_numpy(),
        outside=(situations["market"] - situations["units"]).clip(0).cast(pl.Float64)
        .to_numpy(),
        customer=customer_code["code"].to_numpy(), segment=customers["segment"].to_numpy(),
        n_skus=len(skus))
    return data, customers, size


def recent(history: pl.DataFrame, months: int) -> pl.DataFrame:
    """The shipments of the last `months` distinct months of the history."""
    kept = history["month"].unique().sort().tail(months)
    return history.filter(pl.col("month").is_in(kept.implode()))


def _segments(ship: pl.DataFrame, n_segments: int) -> pl.DataFrame:
    """customer_id, code (row number), segment: quantile of revenue over the whole history
    (a total: a customer who joined late ranks low; docs/baselines.md, "tertiles of historical
    revenue")."""
    revenue = (ship.group_by("customer_id").agg(pl.col("revenue").sum()).sort("customer_id")
               .with_row_index("code"))
    value = revenue["revenue"].to_numpy()
    edges = np.quantile(value, np.linspace(0, 1, n_segments + 1)[1:-1])
    return revenue.select(pl.col("code").cast(pl.Int64), "customer_id",
                          segment=pl.Series(np.searchsorted(edges, value, side="right")))


def mixed_logit_pricing(month: PlanMonth, settings: MixedLogitSettings | None = None
                        ) -> Pricing:
    """Fit on the history, price per segment and category, expected units per pair."""
    settings = settings or MixedLogitSettings()
    data, customers, size = choice_data(month, settings)
    fit = fit_mixed_logit(subsample(data, settings.fit_customers, settings.seed), settings)
    skus, sku = sku_index(month)
    first = np.unique(sku, return_index=True)[1]
    list_price, cost = month.list_price[first], month.cost[first]
    category = month.rows["primary_category"].to_numpy()[first]
    seen = np.zeros(len(skus), dtype=bool)
    seen[np.unique(data.sku[data.count > 0])] = True
    normal = stratified_normal(1, settings.draws, settings.seed + 1)[0]
    n_seg = len(fit.mean)
    ratio, share = np.ones((n_seg, len(skus))), np.zeros((n_seg, len(skus)))
    for s in range(n_seg):
        beta = fit.mean[s] + fit.spread[s] * normal
        for cat in np.unique(category):
            offer = np.flatnonzero((category == cat) & seen)
            if len(offer) == 0:
                continue
            ratio[s, offer] = segment_prices(fit.constant[offer], beta, list_price[offer],
                                             cost[offer], settings.objective)
            share[s, offer] = choice_probabilities(fit.constant[offer], ratio[s, offer],
                                                   beta).mean(axis=0)
    rows = month.rows.select("customer_id", "primary_category").join(
        customers.select("customer_id", "segment"), on="customer_id", how="left",
        maintain_order="left").join(size, on=["customer_id", "primary_category"], how="left",
                                    maintain_order="left")
    segment = rows["segment"].fill_null(0).to_numpy()
    market = rows["market"].fill_null(0).to_numpy()
    units = market * share[segment, sku]
    price = ratio[segment, sku] * month.list_price
    return Pricing(price, units, units > 0, {
        "segments": n_seg, "price_mean_by_segment": fit.mean.round(3).tolist(),
        "price_spread_by_segment": fit.spread.round(3).tolist(), "loglik": fit.loglik,
        "iterations": fit.iterations})
