"""The paper's four baselines, each a pricing policy whose plan comes from the project's
constrained optimizer: low-rank bandit (`lowrank`), context-based clustering
(`clustering`), model-free robust pricing (`model_free`), mixed logit B2B offers
(`mixed_logit`). They learn from the history (and, online ones, from a `Market`) and
never read the simulator's truth (tests/test_layers.py)."""

from deeprule.baselines.clustering import ClusteringSettings, clustering_pricing
from deeprule.baselines.common import Market, PlanMonth, Pricing, baseline_plans, plan_month
from deeprule.baselines.lowrank import LowRankSettings, lowrank_pricing
from deeprule.baselines.mixed_logit import MixedLogitSettings, mixed_logit_pricing
from deeprule.baselines.model_free import ModelFreeSettings, model_free_pricing

__all__ = [
    "ClusteringSettings", "LowRankSettings", "Market", "MixedLogitSettings",
    "ModelFreeSettings", "PlanMonth", "Pricing", "baseline_plans", "clustering_pricing",
    "lowrank_pricing", "mixed_logit_pricing", "model_free_pricing", "plan_month",
]
