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
from deeprule.models.market import row_market_prices
from deeprule.models.price import PriceResponse
from deeprule.rules import Decisions, Program, complexity

RULE_FEATURES = {
    "cost": "unit cost of the SKU",
    "list_price": "the SKU's list price",
    "usual_price": "the price this customer usually paid for this SKU",
    "market_price": "the SKU's average price over all customers' past sales (list price if "
                    "never sold)",
    "hist_units": "units this customer usually bought of this SKU per month (0 if new)",
    "pred_units": "units per month the demand model predicts for this customer at the usual price",
    "pred_units_market": "units per month the demand model predicts at the market price",
    "elasticity": "how strongly demand falls when the price rises (positive; 2 = -2% units "
                  "per +1% price), estimated by the demand model at the usual price",
    "elasticity_market": "the same elasticity at the market price",
    "sens_low": "1 if the customer's documents call it little price-sensitive in this SKU's "
                "category, else 0",
    "sens_medium": "1 if its documents call it moderately price-sensitive in this category",
    "sens_high": "1 if its documents call it highly price-sensitive in this category (all three "
                 "0 when no document says)",
    "in_scope": "1 if the customer's profile lists this SKU's category among those it buys now",
    "announced_now": "1 if the customer announced it starts buying this category by this month",
    "announced_later": "1 if the customer announced this category for a later month",
    "brand_wanted": "1 if the customer asked for this SKU's brand in a negotiation",
    "discount_ceiling": "deepest discount off the list price the customer's latest approval "
                        "allows (0.15 = 15%; 0 when no document states one)",
    "locked": "1 if a contract locks this SKU for this customer (a minimum quantity)",
    "has_documents": "1 if any of the customer's documents was read, else 0",
}
"""The rule vocabulary: names and meanings the LLM sees. Document facts come from the LLM
priors (`customer_priors`), 0 for a customer without documents."""
RULE_FEATURE_UNITS = {"cost": "money", "list_price": "money", "usual_price": "money",
                      "market_price": "money", "hist_units": "units", "pred_units": "units",
                      "pred_units_market": "units", "elasticity": "", "elasticity_market": "",
                      "sens_low": "", "sens_medium": "", "sens_high": "", "in_scope": "",
                      "announced_now": "", "announced_later": "", "brand_wanted": "",
                      "discount_ceiling": "", "locked": "", "has_documents": ""}
"""Each feature's unit ("" = a plain ratio or a 0/1 flag): the rule check refuses unit
mix-ups."""
DOCUMENT_RULE_FEATURES = {
    "in_scope": "doc_in_scope", "announced_now": "doc_announced_now",
    "announced_later": "doc_announced_later", "brand_wanted": "doc_brand_wanted",
    "discount_ceiling": "doc_discount_ceiling", "locked": "doc_locked",
    "has_documents": "doc_has_documents",
}
"""Rule features read as they are from a scoring frame's document columns
(deeprule/features/documents.py); the sensitivity becomes three indicators."""
SENSITIVITY_INDICATORS = {"sens_low": -1.0, "sens_medium": 0.0, "sens_high": 1.0}
"""Indicator -> the `doc_sensitivity` value it flags (when the level is stated)."""


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


def candidates(frame: ScoringFrame, response: PriceResponse,
               shipments: pl.DataFrame, segments: pl.DataFrame | None = None) -> Candidates:
    """Rule features from a scoring frame, the demand model's response on it and the
    shipments the market price averages (months before each row's); `segments`
    (customer_id, segment; search/segments.py) labels each row's customer segment."""
    list_price = frame.column("list_price")
    usual = list_price * np.exp(frame.column("r_usual"))
    market = row_market_prices(frame.rows, shipments)
    columns = {
        "cost": frame.column("cost"), "list_price": list_price, "usual_price": usual,
        "market_price": market,
        "hist_units": np.where(frame.column("has_history") > 0,
                               frame.column("hist_mean_units"), 0.0),
        "pred_units": response.units(usual), "pred_units_market": response.units(market),
        "elasticity": -response.elasticity(usual),
        "elasticity_market": -response.elasticity(market),
        **document_features(frame),
    }
    rows = frame.rows.select("customer_id", "sku_id", "month", "primary_category")
    return Candidates(with_segments(rows, segments) if segments is not None else rows,
                      columns, response)


def with_segments(rows: pl.DataFrame, segments: pl.DataFrame) -> pl.DataFrame:
    """`rows` with their customer's segment, in the same order; a customer without one is
    an error naming it (nothing silently dropped or lumped)."""
    labeled = rows.join(segments.select("customer_id", "segment"), on="customer_id",
                        how="left", maintain_order="left")
    unknown = labeled.filter(pl.col("segment").is_null())["customer_id"].unique().sort()
    if unknown.len():
        raise ValueError(f"customer_features: no segment for customers {unknown.to_list()[:5]}")
    return labeled


def document_features(frame: ScoringFrame) -> dict[str, np.ndarray]:
    """The document rule features of each row; all 0 when the frame carries no priors."""
    def doc(name: str) -> np.ndarray:
        return (frame.column(name) if name in frame.rows.columns
                else np.zeros(frame.height, dtype=np.float64))

    stated, level = doc("doc_sensitivity_stated") > 0, doc("doc_sensitivity")
    out = {name: doc(column) for name, column in DOCUMENT_RULE_FEATURES.items()}
    out |= {name: (stated & (level == value)).astype(np.float64)
            for name, value in SENSITIVITY_INDICATORS.items()}
    return out


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
    row_value: np.ndarray
    """Each row's part of Φ: its profit minus η (p − p*)² (0 where not stocked)."""
    units: float
    """Units the demand model predicts the stocked rows sell at their plan prices."""


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
    row_value = row_profit - config.eta * deviation
    size = sum(complexity(root) for root in program.functions.values())
    outside = stocked & ((decisions.price < cost) | (decisions.price > cand.columns["list_price"])
                         | decisions.invalid_price)
    penalty = config.rho * float(outside.mean()) * cand.profit_scale
    fitness = float(np.mean(row_value) - config.lam * size - penalty)
    return Outcome(fitness, float(row_profit.sum()), int(stocked.sum()), int(outside.sum()),
                   row_profit, row_value, float(units.sum()))
