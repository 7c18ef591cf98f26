"""The monotone price basis and the closed-form responses built on it."""

import numpy as np
import torch

from deeprule.models.price import DOT_CHUNK, NetRateResponse, PriceBasis, PriceResponse

R = np.linspace(np.log(0.3), np.log(2.0), 400)


def test_basis_is_non_decreasing_and_its_slope_matches() -> None:
    basis = PriceBasis()
    r_usual = np.full(len(R), np.log(0.95))
    phi = basis.numpy(R, r_usual)
    assert phi.shape == (len(R), basis.size)
    assert np.all(np.diff(phi, axis=0) >= -1e-12)
    slope = basis.numpy_slope(R, r_usual)
    assert np.all(slope >= 0)
    h = 1e-6
    numeric = (basis.numpy(R + h, r_usual) - basis.numpy(R - h, r_usual)) / (2 * h)
    np.testing.assert_allclose(slope, numeric, rtol=1e-4, atol=1e-6)


def test_torch_basis_equals_numpy_basis() -> None:
    basis = PriceBasis()
    r_usual = np.linspace(-0.2, 0.0, len(R))
    as_torch = basis.torch(torch.tensor(R), torch.tensor(r_usual)).numpy()
    np.testing.assert_allclose(as_torch, basis.numpy(R, r_usual), rtol=1e-10, atol=1e-12)


def test_basis_roundtrips_through_dict() -> None:
    basis = PriceBasis(knots=(-0.1, 0.0, 0.2))
    assert PriceBasis.from_dict(basis.to_dict()) == basis


def _random_terms(n: int, seed: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    basis = PriceBasis()
    return (rng.normal(3, 1, n), rng.exponential(1.0, (n, basis.size)),
            rng.normal(-0.05, 0.05, n), rng.uniform(2, 50, n))


def test_units_fall_and_net_rate_rises_with_price_for_any_non_negative_slopes() -> None:
    level, slopes, r_usual, list_price = _random_terms(500, 0)
    units = PriceResponse(level, slopes, r_usual, list_price, PriceBasis())
    rate = NetRateResponse(level / 10, slopes / 10, r_usual, list_price, PriceBasis())
    sweep = np.exp(R[::10])
    curves = np.stack([units.units(list_price * s) for s in sweep])
    rates = np.stack([rate.rate(list_price * s) for s in sweep])
    assert np.all(curves >= 0)
    assert np.all(np.diff(curves, axis=0) <= 1e-9)
    assert np.all(np.diff(rates, axis=0) >= -1e-12)
    assert np.all(units.elasticity(list_price) <= 0)


def test_elasticity_is_the_log_slope_of_units() -> None:
    level, slopes, r_usual, list_price = _random_terms(200, 1)
    units = PriceResponse(level, slopes, r_usual, list_price, PriceBasis())
    price, h = list_price * 0.97, 1e-6
    numeric = (units.log_units(price * np.exp(h)) - units.log_units(price * np.exp(-h))) / (2 * h)
    np.testing.assert_allclose(units.elasticity(price), numeric, rtol=1e-4, atol=1e-6)
    subset = units.take(np.array([3, 7]))
    np.testing.assert_allclose(subset.units(price[[3, 7]]), units.units(price)[[3, 7]])


def test_chunked_dot_equals_the_full_basis_product_across_chunk_boundaries() -> None:
    basis, rng = PriceBasis(), np.random.default_rng(0)
    rows = DOT_CHUNK * 2 + 17
    r, r_usual = rng.uniform(-0.5, 0.3, rows), rng.uniform(-0.2, 0.0, rows)
    slopes = rng.uniform(0.0, 2.0, (rows, basis.size))
    for derivative, full in ((False, basis.numpy), (True, basis.numpy_slope)):
        expected = np.einsum("nk,nk->n", slopes, full(r, r_usual))
        np.testing.assert_allclose(basis.dot(slopes, r, r_usual, derivative), expected,
                                   rtol=1e-12)
