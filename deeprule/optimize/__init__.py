"""Plan optimization: per-customer assortment-and-price plans under the paper's constraints."""

from deeprule.optimize.milp import (
    PlanConstraints,
    PlanOptions,
    PlanResult,
    efficient_options,
    solve_plans,
)

__all__ = ["PlanConstraints", "PlanOptions", "PlanResult", "efficient_options", "solve_plans"]
