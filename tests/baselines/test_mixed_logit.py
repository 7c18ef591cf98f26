"""Mixed logit: simulated panel choices give back their coefficients; segment prices are best.

Moderate counts per customer (20 units a month): with hundreds, each customer's coefficient
is pinned so sharply that 60 simulation draws cannot resolve it (measured: means off by up
to 0.4 with 150 units), a known limit of simulated maximum likelihood, said in
docs/baselines.md.
"""

from datetime import date

import numpy as np
import polars as pl

from deeprule.baselines.mixed_logit import (
    ChoiceData,
    MixedLogitSettings,
    _tensors,
    choice_probabilities,
    fit_mixed_logit,
    recent,
    segment_prices,
    subsample,
)

CONSTANT = np.array([1.0, 0.5, 0.0, -0.5, 0.8, 0.2])
MEAN = np.array([-6.0, -4.0, -2.0])
"""Mean price coefficient per segment (per unit of price / list price)."""
SPREAD = np.array([0.8, 0.8, 0.8])
CUSTOMERS_PER_SEGMENT, MONTHS, MARKET = 80, 6, 20


def _simulate(seed: int) -> ChoiceData:
    rng = np.random.default_rng(seed)
    n_cust = CUSTOMERS_PER_SEGMENT * len(MEAN)
    segment = np.repeat(np.arange(len(MEAN)), CUSTOMERS_PER_SEGMENT)
    beta = MEAN[segment] + SPREAD[segment] * rng.standard_normal(n_cust)
    n_sku = len(CONSTANT)
    situation, sku, ratio, count, outside, customer = [], [], [], [], [], []
    for c in range(n_cust):
        for _ in range(MONTHS):
            r = rng.uniform(0.6, 1.0, n_sku)
            share = choice_probabilities(CONSTANT, r, np.array([beta[c]]))[0]
            drawn = rng.multinomial(MARKET, np.r_[share, 1 - share.sum()])
            situation += [len(outside)] * n_sku
            sku += list(range(n_sku))
            ratio += list(r)
            count += list(drawn[:-1])
            outside.append(drawn[-1])
            customer.append(c)
    return ChoiceData(np.array(situation), np.array(sku), np.array(ratio),
                      np.array(count, dtype=float), np.array(outside, dtype=float),
                      np.array(customer), segment, n_sku)


def test_the_fit_recovers_the_simulated_coefficients() -> None:
    fit = fit_mixed_logit(_simulate(0), MixedLogitSettings(draws=60, ridge=0.0))
    assert np.all(np.abs(fit.constant - CONSTANT) < 0.2), fit.constant
    assert np.all(np.abs(fit.mean - MEAN) < 0.3), fit.mean
    assert np.all(np.abs(fit.spread - SPREAD) < 0.25), fit.spread


def test_the_likelihood_summed_in_chunks_of_customers_fits_the_same() -> None:
    """Memory is bounded by fitting chunk by chunk (`paper`'s history needs 12 GB in one
    piece): the chunks hold whole customers, so the fit is the same."""
    data = _simulate(1)
    small = MixedLogitSettings(draws=20, chunk_elements=20 * 6 * 25)  # ~25 situations each
    chunks = _tensors(data, small.chunk_elements // small.draws)
    assert len(chunks) > 10
    assert sum(len(c["units"]) for c in chunks) == len(data.outside)
    per_chunk = [set(c["customer"].tolist()) for c in chunks]
    assert sum(map(len, per_chunk)) == len(set().union(*per_chunk))  # no customer split
    whole = fit_mixed_logit(data, MixedLogitSettings(draws=20))
    chunked = fit_mixed_logit(data, small)
    assert abs(chunked.loglik - whole.loglik) < 1e-6 * abs(whole.loglik)
    for a, b in ((chunked.constant, whole.constant), (chunked.mean, whole.mean),
                 (chunked.spread, whole.spread)):
        np.testing.assert_allclose(a, b, atol=1e-4)


def test_a_subsample_keeps_whole_customers_recoded_and_still_fits() -> None:
    data = _simulate(2)
    assert subsample(data, 10_000, 0) is data  # no more customers than asked: all of them
    part = subsample(data, 90, 0)
    assert len(part.segment) == 90 and set(part.customer.tolist()) == set(range(90))
    assert len(part.outside) == 90 * MONTHS  # every situation of a kept customer
    assert np.array_equal(np.unique(part.situation), np.arange(len(part.outside)))
    assert np.all(np.diff(part.situation) >= 0) and np.all(np.diff(part.customer) >= 0)
    assert len(part.sku) == len(part.outside) * len(CONSTANT)
    fit = fit_mixed_logit(part, MixedLogitSettings(draws=30, ridge=0.0))
    assert np.all(np.abs(fit.mean - MEAN) < 0.6), fit.mean  # 30 customers a segment


def test_segment_prices_beat_every_grid_price_pair() -> None:
    constant = CONSTANT[:2]
    beta = MEAN[1] + SPREAD[1] * np.random.default_rng(0).standard_normal(50)
    list_price, cost = np.array([10.0, 20.0]), np.array([3.0, 8.0])
    best = segment_prices(constant, beta, list_price, cost, "profit")

    def profit(ratio: np.ndarray) -> float:
        share = choice_probabilities(constant, ratio, beta)
        return float((share * (ratio * list_price - cost)).sum(axis=1).mean())

    grid = np.linspace(0.3, 1.0, 36)
    brute = max(profit(np.array([a, b])) for a in grid for b in grid if a >= 0.3 and b >= 0.4)
    assert profit(best) >= brute - 1e-6
    assert np.all(best >= cost / list_price - 1e-9) and np.all(best <= 1 + 1e-9)


def test_recent_keeps_the_last_months_whole() -> None:
    months = [date(2024, m, 1) for m in (1, 1, 2, 3, 3, 4)]
    history = pl.DataFrame({"month": months, "units": [1, 2, 3, 4, 5, 6]})
    assert recent(history, 2)["units"].to_list() == [4, 5, 6]
    assert recent(history, 12).equals(history)  # a shorter history is read whole
