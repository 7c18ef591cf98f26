"""Candidate rows and the paper's rule fitness Φ(f) (Appendix D, eq. 22), scored by the DNN.

Φ(f) = mean_i [ 1[d_i = 1] (p_i − c_i) q_i(p_i) − η (p_i − p*_i)² ] − λ ℓ(f) − ρ V(f)

q_i(p) comes from the demand model's exported price response (no network
call per evaluation), p* is the pair's usual price, ℓ the rule's complexity.
Prices are held to [cost, list price] when profit is computed (the plan
optimizer's bounds); the share V(f) of stocked rows the rule priced outside
them is penalized (ρ times the mean absolute row profit of the usual prices) and
reported, never hidden: otherwise a fitter learns that "10 × cost", clipped to
the list price, is a fine way to say "list price".
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import polars as pl

from deeprule.models.frames import ScoringFrame
from deeprule.models.price import PriceResponse
from deeprule.rules import Decisions, Program, complexity

RULE_FEATURES = {
    "cost": "unit cost of the SKU",
    "list_price": "the SKU's list price",
    "usual_price": "the price this customer usually paid for this SKU",
    "hist_units": "units this customer usually bought of this SKU per month (0 if new)",
    "elasticity": "how strongly demand falls when the price rises (positive; 2 = -2% units "
                  "per +1% price), estimated by the demand model",
}
"""The rule vocabulary: names and meanings the LLM sees."""
RULE_FEATURE_UNITS = {"cost": "money", "list_price": "money", "usual_price": "money",
                      "hist_units": "units", "elasticity": ""}
"""Each feature's unit ("" = a plain ratio): the rule check refuses unit mix-ups."""


@dataclass(frozen=True)
class Candidates:
    """Customer x SKU rows to decide on, their rule features and their price response."""

    rows: pl.DataFrame
    columns: dict[str, np.ndarray]
    response: PriceResponse

    @property
    def height(self) -> int:
        return self.rows.height

    @cached_property
    def profit_scale(self) -> float:
        """Mean absolute row profit at the usual prices: the unit of the violation penalty."""
        usual, cost = self.columns["usual_price"], self.columns["cost"]
        return float(np.mean(np.abs((usual - cost) * self.response.units(usual))))


def candidates(frame: ScoringFrame, response: PriceResponse) -> Candidates:
    """Rule features from a scoring frame and the demand model's response on it."""
    list_price = frame.column("list_price")
    usual = list_price * np.exp(frame.column("r_usual"))
    columns = {
        "cost": frame.column("cost"), "list_price": list_price, "usual_price": usual,
        "hist_units": np.where(frame.column("has_history") > 0,
                               frame.column("hist_mean_units"), 0.0),
        "elasticity": -response.elasticity(usual),
    }
    return Candidates(frame.rows.select("customer_id", "sku_id", "month", "primary_category"),
                      columns, response)


@dataclass(frozen=True)
class FitnessConfig:
    eta: float = 1.0
    """Weight of the squared deviation from the usual price."""
    lam: float = 0.5
    """Weight of the rule's complexity."""
    rho: float = 1.0
    """Weight of the violating share, in units of the mean absolute row profit at usual prices."""


@dataclass(frozen=True)
class Outcome:
    """What a rule's decisions are predicted to do, row by row and in total."""

    fitness: float
    profit: float
    stocked: int
    violations: int
    row_profit: np.ndarray


def plan_prices(decisions: Decisions, cand: Candidates) -> np.ndarray:
    """Stocked rows' prices held to [cost, list price]; invalid prices fall back to usual."""
    price = np.where(decisions.invalid_price, cand.columns["usual_price"], decisions.price)
    return np.clip(price, cand.columns["cost"], cand.columns["list_price"])


def outcome(program: Program, decisions: Decisions, cand: Candidates,
            config: FitnessConfig = FitnessConfig()) -> Outcome:
    """Φ and its parts for decisions made by `program` on `cand`."""
    cost, usual = cand.columns["cost"], cand.columns["usual_price"]
    price = plan_prices(decisions, cand)
    stocked = decisions.stock
    units = np.where(stocked, cand.response.units(np.where(stocked, price, usual)), 0.0)
    row_profit = np.where(stocked, (price - cost) * units, 0.0)
    deviation = np.where(stocked, (price - usual) ** 2, 0.0)
    size = sum(complexity(root) for root in program.functions.values())
    outside = stocked & ((decisions.price < cost) | (decisions.price > cand.columns["list_price"])
                         | decisions.invalid_price)
    penalty = config.rho * float(outside.mean()) * cand.profit_scale
    fitness = float(np.mean(row_profit - config.eta * deviation) - config.lam * size - penalty)
    return Outcome(fitness, float(row_profit.sum()), int(stocked.sum()), int(outside.sum()),
                   row_profit)
