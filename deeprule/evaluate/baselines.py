"""The paper's four baselines on a world's plan month, realized under the true demand.

Each baseline (deeprule/baselines) learns from the shipments before the plan month
only — the online ones also from `WorldMarket` rounds: Poisson-sampled units at the
prices they post, never the expected units, drawn from the market of the last month
before the plan month (a method never trains on the month it is scored on) — and its
pricing
becomes a plan through the project's exact optimizer under the same hard
constraints and contractual locks (as contracted: what the pipeline reads from the
documents). Plans are realized by the one rule of docs/plans.md
(`deeprule.evaluate.realized.realize`) next to the logged policy and the
constrained oracle. Evaluation only: this module holds the `World`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date

import numpy as np
import polars as pl

from deeprule.baselines.clustering import ClusteringSettings, clustering_pricing
from deeprule.baselines.common import (
    Market,
    PlanMonth,
    Pricing,
    baseline_plans,
    pair_history,
    plan_month,
)
from deeprule.baselines.lowrank import LowRankSettings, lowrank_pricing
from deeprule.baselines.mixed_logit import MixedLogitSettings, mixed_logit_pricing
from deeprule.baselines.model_free import ModelFreeSettings, model_free_pricing
from deeprule.evaluate.oracle import OracleConfig
from deeprule.evaluate.realized import (
    comparison,
    constrained_oracle,
    logged_lines,
    outcome,
    plan_outcome,
    realize,
)
from deeprule.optimize.accounts import AccountHistory, account_history
from deeprule.optimize.plans import Codes, PlanConfig, Plans, lock_columns
from deeprule.synth import World

BASELINES = ("low-rank bandit", "context-based clustering", "model-free assortment pricing",
             "systematic B2B recommendation")
"""The paper's Table 1 names, in its order."""


MARKET_PAIRS = ("all", "traded")
"""Which candidate pairs answer a market round: every pair (an online method explores the
whole catalogue with every customer), or only pairs traded before the plan month."""


class WorldMarket:
    """The candidate pairs' market in `market_month` from the true demand: Poisson units at
    the posted prices, a fresh draw every round; pairs outside `open_pairs` sell nothing."""

    def __init__(self, world: World, month: PlanMonth, market_month: date, seed: int,
                 open_pairs: np.ndarray | None = None) -> None:
        self.world = world
        self.rows = month.rows
        self.market_month = market_month
        self.open = np.ones(month.rows.height, dtype=bool) if open_pairs is None else open_pairs
        self.rng = np.random.default_rng(seed)
        self.rounds = 0

    def respond(self, price: np.ndarray) -> np.ndarray:
        expected = self.world.expected_units(self.rows["customer_id"], self.rows["sku_id"],
                                             np.maximum(price, 1e-6), self.market_month)
        self.rounds += 1
        return np.where(self.open, self.rng.poisson(expected), 0).astype(np.float64)


@dataclass(frozen=True)
class BaselineSettings:
    """Every baseline's settings (their own defaults), the plan optimizer, the oracle and
    the seed of the market's sampling and of every baseline."""

    lowrank: LowRankSettings = field(default_factory=LowRankSettings)
    clustering: ClusteringSettings = field(default_factory=ClusteringSettings)
    model_free: ModelFreeSettings = field(default_factory=ModelFreeSettings)
    mixed_logit: MixedLogitSettings = field(default_factory=MixedLogitSettings)
    plan: PlanConfig = field(default_factory=PlanConfig)
    oracle: OracleConfig = field(default_factory=OracleConfig)
    market_pairs: str = "traded"
    """"all" or "traded" (MARKET_PAIRS)."""
    seed: int = 0


@dataclass(frozen=True)
class BaselineRun:
    """The comparison table (baselines, logged policy, oracle: realized units, revenue,
    profit, violations, gap to the oracle, seconds), each baseline's plan and pricing."""

    month: date
    table: pl.DataFrame
    plans: dict[str, Plans]
    pricing: dict[str, Pricing]


def pricers(settings: BaselineSettings) -> dict[str, Callable[[PlanMonth, Market], Pricing]]:
    """Each baseline as (plan month, market) -> pricing, seeded by `settings.seed`."""
    seed = settings.seed
    return {
        BASELINES[0]: lambda m, market: lowrank_pricing(
            m, market, replace(settings.lowrank, seed=seed)),
        BASELINES[1]: lambda m, market: clustering_pricing(
            m, market, replace(settings.clustering, seed=seed)),
        BASELINES[2]: lambda m, _: model_free_pricing(m, replace(settings.model_free, seed=seed)),
        BASELINES[3]: lambda m, _: mixed_logit_pricing(m, replace(settings.mixed_logit,
                                                                  seed=seed)),
    }


def run_baselines(world: World, month: date | None = None,
                  settings: BaselineSettings | None = None,
                  methods: tuple[str, ...] = BASELINES) -> BaselineRun:
    """Every baseline's plan for `month` (default: the world's last month) realized under the
    true demand, beside the logged policy and the constrained oracle. Online baselines
    meet the market of the month before `month`."""
    settings = settings or BaselineSettings()
    month = month or world.spec.months[-1]
    run = baseline_outcomes(world, baseline_month(world, month), settings, methods)
    logged = realize(world, logged_lines(world, month)).filter(
        pl.col("customer_id").is_in(pl.Series(run.customers, dtype=pl.String).implode()))
    planned = logged["customer_id"].n_unique()
    rows = [*run.rows, outcome("logged policy", logged, planned, len(run.customers) - planned,
                               None)]
    started = time.perf_counter()
    oracle = constrained_oracle(world, month, settings.oracle)
    seconds = [*run.seconds, 0.0, time.perf_counter() - started]
    rows.append(plan_outcome("constrained oracle", oracle.lines, oracle.customers))
    table = comparison(rows, float(oracle.lines["realized_profit"].sum())).with_columns(
        seconds=pl.Series(seconds))
    return BaselineRun(month, table, run.plans, run.pricing)


@dataclass(frozen=True)
class BaselineOutcomes:
    """Each baseline's outcome row (`realized.outcome` shape), seconds, plans and pricing;
    the plan month's customers."""

    customers: list[str]
    rows: list[dict[str, object]]
    seconds: list[float]
    plans: dict[str, Plans]
    pricing: dict[str, Pricing]


@dataclass(frozen=True)
class BaselineMonth:
    """What every baseline of one plan month shares: the candidates, their accounts (indexed
    like `codes`), the contractual locks and the month the market answers from."""

    target: PlanMonth
    codes: Codes
    history: AccountHistory
    locks: tuple[np.ndarray, np.ndarray]
    market_month: date


def baseline_month(world: World, month: date) -> BaselineMonth:
    """The plan month as the baselines see it: only the shipments and expenses before it."""
    before = [m for m in world.spec.months if m < month]
    shipments = pl.concat([world.shipments(m) for m in before])
    skus = world.skus()
    target = plan_month(shipments, skus, month)
    codes = Codes.of(target.rows)
    expenses = pl.concat([world.expenses(m) for m in before])
    history = account_history(shipments, skus, expenses, codes.customers, codes.categories,
                              month)
    locks = lock_columns(target.rows, world.policy_locks().with_columns(
        doc_id=pl.lit("contract")))
    return BaselineMonth(target, codes, history, locks, before[-1])


def baseline_outcomes(world: World, plan: BaselineMonth, settings: BaselineSettings,
                      methods: tuple[str, ...] = BASELINES) -> BaselineOutcomes:
    """The baselines' plans for the month, realized under the true demand (no logged policy,
    no oracle: callers that already have them, like `method_comparison`, add their own)."""
    chosen = pricers(settings)
    if settings.market_pairs not in MARKET_PAIRS:
        raise ValueError(f"unknown market_pairs {settings.market_pairs!r}: choose one of "
                         f"{MARKET_PAIRS}")
    open_pairs = (None if settings.market_pairs == "all"
                  else pair_history(plan.target)["hist_units"].to_numpy() > 0)
    out = BaselineOutcomes(list(plan.codes.customers), [], [], {}, {})
    for offset, name in enumerate(methods):
        started = time.perf_counter()
        market = WorldMarket(world, plan.target, plan.market_month,
                             settings.seed + 1000 * offset, open_pairs)
        out.pricing[name] = chosen[name](plan.target, market)
        out.plans[name] = baseline_plans(plan.target, out.pricing[name], plan.history,
                                         plan.locks, name, settings.plan)
        out.seconds.append(time.perf_counter() - started)
        out.rows.append(plan_outcome(name, realize(world, out.plans[name].lines),
                                     out.plans[name].customers))
    return out
