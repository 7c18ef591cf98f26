"""The two small networks. Both output per-row terms of the monotone price pathway.

`DemandNet` is the paper's sales-volume DNN with its dual-tower input
encoding: a high-dimensional tower over customer ⊕ SKU context, a
low-dimensional tower over the pair's key volume variables, fused as
[beta * e_high; (1 - beta) * e_low]. `UpliftNet` is the Ele.me-style scorer:
one shared representation of the context, a units head and a net-rate head,
and a treatment discriminator fed through gradient reversal.
"""

from __future__ import annotations

import torch
from torch import nn

from deeprule.models.price import MAX_LOG_UNITS

SLOPE_OFFSET = -4.0
"""Pre-softplus offset of every slope but the first: curvature and regime terms
start near zero and grow only if the data ask for them."""


def prior_slopes(raw: torch.Tensor, prior_elasticity: torch.Tensor) -> torch.Tensor:
    """Non-negative slopes: the first (on r) starts at the within-pair elasticity estimate."""
    prior = prior_elasticity.clamp_min(1e-3)
    first = prior + torch.log(-torch.expm1(-prior))
    offset = torch.cat([first[:, None], torch.full_like(raw[:, 1:], SLOPE_OFFSET)], dim=1)
    return nn.functional.softplus(raw + offset)


def _start_at_prior(*layers: nn.Linear) -> None:
    """Zero the output layers: an untrained network predicts exactly its priors, and
    training (with early stopping) can only move away from them if validation agrees."""
    for layer in layers:
        nn.init.zeros_(layer.weight)
        nn.init.zeros_(layer.bias)


def monotone_log_units(base: torch.Tensor, slopes: torch.Tensor, phi: torch.Tensor,
                       phi_usual: torch.Tensor) -> torch.Tensor:
    """log units = base - sum_k g_k (phi_k(r) - phi_k(r_usual)), with g >= 0."""
    return torch.clamp(base - (slopes * (phi - phi_usual)).sum(dim=1), max=MAX_LOG_UNITS)


class DemandNet(nn.Module):
    """Context -> (base log units, non-negative price slopes)."""

    def __init__(self, n_high: int, n_low: int, n_basis: int, hidden: int = 64,
                 embed: int = 32, low_embed: int = 8, beta: float = 0.3) -> None:
        super().__init__()
        self.architecture = {"n_high": n_high, "n_low": n_low, "n_basis": n_basis,
                             "hidden": hidden, "embed": embed, "low_embed": low_embed,
                             "beta": beta}
        """Constructor arguments: with the state dict, all it takes to rebuild the net."""
        self.high_tower = nn.Sequential(nn.Linear(n_high, hidden), nn.ReLU(),
                                        nn.Linear(hidden, embed), nn.ReLU())
        self.low_tower = nn.Sequential(nn.Linear(n_low, low_embed), nn.ReLU())
        self.low_skip = nn.Linear(n_low, 1)
        self.trunk = nn.Sequential(nn.Linear(embed + low_embed, hidden), nn.ReLU())
        self.head = nn.Linear(hidden, 1 + n_basis)
        _start_at_prior(self.head, self.low_skip)
        self.register_buffer("beta", torch.tensor(float(beta)))

    def terms(self, high: torch.Tensor, low: torch.Tensor, priors: torch.Tensor
              ) -> tuple[torch.Tensor, torch.Tensor]:
        """Base log units and price slopes, as corrections to the priors.

        `priors` holds (history log units, within-pair elasticity) per row.
        """
        fused = torch.cat([self.beta * self.high_tower(high),
                           (1.0 - self.beta) * self.low_tower(low)], dim=1)
        out = self.head(self.trunk(fused))
        base = priors[:, 0] + out[:, 0] + self.low_skip(low)[:, 0]
        return base, prior_slopes(out[:, 1:], priors[:, 1])

    def forward(self, high: torch.Tensor, low: torch.Tensor, priors: torch.Tensor,
                phi: torch.Tensor, phi_usual: torch.Tensor) -> torch.Tensor:
        base, slopes = self.terms(high, low, priors)
        return monotone_log_units(base, slopes, phi, phi_usual)


class _ReverseGradient(torch.autograd.Function):
    """Identity forward; multiplies the gradient by -strength backward."""

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, x: torch.Tensor,
                strength: float) -> torch.Tensor:
        ctx.strength = strength
        return x.view_as(x)

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx,
                 grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return -ctx.strength * grad, None


def reverse_gradient(x: torch.Tensor, strength: float) -> torch.Tensor:
    return _ReverseGradient.apply(x, strength)


class UpliftNet(nn.Module):
    """Shared representation -> units terms, net-rate terms, and a treatment guess.

    Like `DemandNet`, every head starts at its prior: units at the pair's
    history and within-pair elasticity, net rate at the accounting identity
    1 - cost / price (whose slope in r is cost / price >= 0).
    """

    def __init__(self, n_context: int, n_basis: int, hidden: int = 64, embed: int = 32) -> None:
        super().__init__()
        self.architecture = {"n_context": n_context, "n_basis": n_basis, "hidden": hidden,
                             "embed": embed}
        """Constructor arguments: with the state dict, all it takes to rebuild the net."""
        self.encoder = nn.Sequential(nn.Linear(n_context, hidden), nn.ReLU(),
                                     nn.Linear(hidden, embed), nn.ReLU())
        self.units_head = nn.Linear(embed, 1 + n_basis)
        self.rate_head = nn.Linear(embed, 1 + n_basis)
        self.discriminator = nn.Sequential(nn.Linear(embed, 32), nn.ReLU(), nn.Linear(32, 1))
        _start_at_prior(self.units_head, self.rate_head)

    def representation(self, context: torch.Tensor) -> torch.Tensor:
        return self.encoder(context)

    def terms(self, context: torch.Tensor, priors: torch.Tensor,
              rep: torch.Tensor | None = None
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(units base, units slopes >= 0, rate base, rate slopes >= 0).

        `priors` columns: history log units, elasticity, usual net rate, its slope in r.
        """
        rep = self.representation(context) if rep is None else rep
        units, rate = self.units_head(rep), self.rate_head(rep)
        return (priors[:, 0] + units[:, 0], prior_slopes(units[:, 1:], priors[:, 1]),
                priors[:, 2] + rate[:, 0], prior_slopes(rate[:, 1:], priors[:, 3]))

    def outcomes(self, terms: tuple[torch.Tensor, ...], phi: torch.Tensor,
                 phi_usual: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(log units, net rate) at the prices behind `phi`."""
        base, slopes, rate_base, rate_slopes = terms
        rate = rate_base + (rate_slopes * (phi - phi_usual)).sum(dim=1)
        return monotone_log_units(base, slopes, phi, phi_usual), rate


NETS: dict[str, type[DemandNet] | type[UpliftNet]] = {"DemandNet": DemandNet,
                                                       "UpliftNet": UpliftNet}
"""The classes a logged model may name: loading never resolves an arbitrary class."""


def rebuild(kind: str, architecture: dict[str, float | int],
            state: dict[str, torch.Tensor]) -> DemandNet | UpliftNet:
    """A network from its class name, constructor arguments and weights."""
    if kind not in NETS:
        raise ValueError(f"unknown network {kind!r}; expected one of {sorted(NETS)}")
    net = NETS[kind](**architecture)
    net.load_state_dict(state)
    return net.eval()
