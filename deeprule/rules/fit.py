"""Phase 2 of the paper's decoupled search: fix a rule's structure, fit its constants.

The objective is any function of the rule's decisions (e.g. expected profit
from the scorers minus penalties); it is usually piecewise constant in the
thresholds, so the default is Powell's derivative-free method, started from
the constants the proposer wrote. Every evaluation is vectorized over all rows.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from deeprule.rules.interpret import Columns, Decisions, decide
from deeprule.rules.ir import Program

Objective = Callable[[Decisions], float]
"""Loss of a set of decisions (lower is better)."""


@dataclass(frozen=True)
class ConstantFit:
    """The fitted constants and what they bought."""

    params: tuple[float, ...]
    loss_before: float
    loss_after: float
    evaluations: int
    seconds: float
    message: str

    @property
    def improved(self) -> bool:
        return self.loss_after < self.loss_before


def fit_constants(program: Program, columns: Columns, objective: Objective,
                  method: str = "Powell", max_evaluations: int = 400) -> ConstantFit:
    """Minimize `objective(decide(program, columns, theta))` over theta, from the written values.

    Never returns worse constants than it started from; a rule without
    constants is returned as it is (zero evaluations).
    """
    started = time.perf_counter()
    start = np.asarray(program.constants, dtype=np.float64)
    evaluations = 0

    def loss(theta: np.ndarray) -> float:
        nonlocal evaluations
        evaluations += 1
        value = float(objective(decide(program, columns, theta)))
        return value if np.isfinite(value) else np.inf

    before = loss(start)
    if start.size == 0:
        return ConstantFit((), before, before, evaluations, time.perf_counter() - started,
                           "no constants")
    result = minimize(loss, start, method=method, options={"maxfev": max_evaluations})
    after = float(result.fun)
    best = tuple(float(v) for v in result.x) if after < before else tuple(start)
    return ConstantFit(best, before, min(after, before), evaluations,
                       time.perf_counter() - started, str(result.message))
