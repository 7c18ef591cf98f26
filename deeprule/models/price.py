"""The monotone price pathway shared by the demand and uplift scorers.

Price enters the networks only through `r = log(unit_price / list_price)` and a
fixed set of basis functions phi_k(r), each non-decreasing in r:

    log units(r) = base(x) - sum_k g_k(x) * (phi_k(r) - phi_k(r_usual))

with g_k(x) >= 0 (a softplus of the network output) and `r_usual` the pair's
usual (historical) log price ratio, a context value that does not move with the
candidate price. Then d log units / d r = -sum_k g_k(x) phi_k'(r) <= 0 for every
x and r: predicted units can never rise when only the price rises. The same
argument with the sign flipped makes the uplift model's net-rate head
non-decreasing.

The basis is: r itself (constant elasticity), p/list = exp(r) (elasticity
growing with price), softplus ramps at fixed knots (elasticity that changes
regime around a price point) and a smooth promotion indicator relative to the
usual price (a promotion lift). Because the basis is fixed, a trained model can
export (base, g) once per row and sweep prices in closed form.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

DEFAULT_KNOT_RATIOS = (0.9, 0.95, 1.0, 1.05, 1.1)
"""Price / list-price ratios where the response may change slope: a 5% grid within
10% of list price, where B2B price points and thresholds cluster."""
RAMP_WIDTH = 0.03
"""Softness (in log price) of each ramp; about the width of a real price threshold."""
PROMO_DEPTH = 0.04
"""A price this far (in log terms) below the usual price counts as a promotion."""
PROMO_WIDTH = 0.06
MAX_LOG_UNITS = 16.0
"""Clamp on log units so a wild extrapolation cannot overflow."""
DOT_CHUNK = 32_768
"""Rows per step of `PriceBasis.dot`: the (rows, size) basis block stays in cache instead of
allocating (and page-faulting) a 64 MiB temporary per million rows."""


@dataclass(frozen=True)
class PriceBasis:
    """Fixed, non-decreasing basis functions of the log price ratio r."""

    knots: tuple[float, ...] = tuple(float(np.log(k)) for k in DEFAULT_KNOT_RATIOS)

    @property
    def size(self) -> int:
        return 3 + len(self.knots)

    def numpy(self, r: np.ndarray, r_usual: np.ndarray) -> np.ndarray:
        """(n, size) basis values for log price ratios r (float64)."""
        r = np.asarray(r, dtype=np.float64)[:, None]
        knots = np.asarray(self.knots)[None, :]
        ramps = RAMP_WIDTH * np.logaddexp(0.0, (r - knots) / RAMP_WIDTH)
        promo_z = (r[:, 0] - np.asarray(r_usual, dtype=np.float64) + PROMO_DEPTH) / PROMO_WIDTH
        not_promo = 0.5 * (1.0 + np.tanh(0.5 * promo_z))
        return np.column_stack([r[:, 0], np.exp(r[:, 0]), not_promo, ramps])

    def numpy_slope(self, r: np.ndarray, r_usual: np.ndarray) -> np.ndarray:
        """(n, size) derivatives d phi_k / d r, all >= 0."""
        r = np.asarray(r, dtype=np.float64)[:, None]
        knots = np.asarray(self.knots)[None, :]
        ramps = 0.5 * (1.0 + np.tanh(0.5 * (r - knots) / RAMP_WIDTH))
        promo_z = (r[:, 0] - np.asarray(r_usual, dtype=np.float64) + PROMO_DEPTH) / PROMO_WIDTH
        s = 0.5 * (1.0 + np.tanh(0.5 * promo_z))
        return np.column_stack([np.ones(len(r)), np.exp(r[:, 0]), s * (1 - s) / PROMO_WIDTH, ramps])

    def dot(self, slopes: np.ndarray, r: np.ndarray, r_usual: np.ndarray,
            derivative: bool = False) -> np.ndarray:
        """Row-wise g . phi(r) (or g . phi'(r)) without materializing the whole basis."""
        r = np.asarray(r, dtype=np.float64)
        r_usual = np.broadcast_to(np.asarray(r_usual, dtype=np.float64), r.shape)
        values = self.numpy_slope if derivative else self.numpy
        out = np.empty(len(r))
        for start in range(0, len(r), DOT_CHUNK):
            rows = slice(start, start + DOT_CHUNK)
            out[rows] = np.einsum("nk,nk->n", slopes[rows], values(r[rows], r_usual[rows]))
        return out

    def torch(self, r: torch.Tensor, r_usual: torch.Tensor) -> torch.Tensor:
        """The same basis on tensors of shape (n,), for training."""
        knots = torch.tensor(self.knots, dtype=r.dtype, device=r.device)
        ramps = RAMP_WIDTH * torch.nn.functional.softplus((r[:, None] - knots) / RAMP_WIDTH)
        not_promo = torch.sigmoid((r - r_usual + PROMO_DEPTH) / PROMO_WIDTH)
        return torch.cat([r[:, None], torch.exp(r)[:, None], not_promo[:, None], ramps], dim=1)

    def to_dict(self) -> dict[str, list[float]]:
        return {"knots": list(self.knots)}

    @classmethod
    def from_dict(cls, data: dict[str, Sequence[float]]) -> PriceBasis:
        return cls(knots=tuple(float(k) for k in data["knots"]))


@dataclass(frozen=True)
class PriceTerms:
    """Per-row terms of a trained head, exported once: any price is then a few array ops.

    value(r) = level + sign * g . phi(r) with g >= 0; `level` already folds in the
    network's base and g . phi(r_usual).
    """

    level: np.ndarray
    slopes: np.ndarray
    r_usual: np.ndarray
    list_price: np.ndarray
    basis: PriceBasis

    def log_ratio(self, unit_price: np.ndarray) -> np.ndarray:
        return np.log(np.maximum(np.asarray(unit_price, dtype=np.float64), 1e-9) / self.list_price)

    def price_part(self, unit_price: np.ndarray) -> np.ndarray:
        """g . phi(r) per row: non-decreasing in price."""
        return self.basis.dot(self.slopes, self.log_ratio(unit_price), self.r_usual)

    def price_slope(self, unit_price: np.ndarray) -> np.ndarray:
        """d (g . phi) / d log price per row (>= 0)."""
        return self.basis.dot(self.slopes, self.log_ratio(unit_price), self.r_usual,
                              derivative=True)


@dataclass(frozen=True)
class PriceResponse(PriceTerms):
    """Units at any price in closed form: units(r) = exp(level - g . phi(r))."""

    def log_units(self, unit_price: np.ndarray) -> np.ndarray:
        return np.minimum(self.level - self.price_part(unit_price), MAX_LOG_UNITS)

    def units(self, unit_price: np.ndarray) -> np.ndarray:
        """Expected units at `unit_price` (one price per row)."""
        return np.exp(self.log_units(unit_price))

    def elasticity(self, unit_price: np.ndarray) -> np.ndarray:
        """d log units / d log price at `unit_price` (always <= 0)."""
        return -self.price_slope(unit_price)

    def take(self, rows: np.ndarray) -> PriceResponse:
        """The terms of a subset of rows (e.g. one customer's pairs)."""
        return PriceResponse(self.level[rows], self.slopes[rows], self.r_usual[rows],
                             self.list_price[rows], self.basis)


@dataclass(frozen=True)
class NetRateResponse(PriceTerms):
    """Net rate (margin / revenue) at any price: level + k . phi(r), non-decreasing in price."""

    def rate(self, unit_price: np.ndarray) -> np.ndarray:
        return self.level + self.price_part(unit_price)
