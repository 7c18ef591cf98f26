"""The issue's targets on the demo world's held-out months (slow: trains on ~60k rows)."""

import pytest

from deeprule.evaluate.experiment import NAIVE, run_experiment
from deeprule.models.demand import DemandConfig
from deeprule.models.uplift import UpliftConfig
from deeprule.synth import build_world, resolve_spec


@pytest.mark.slow
def test_demo_targets_wape_elasticity_and_uplift_beats_naive() -> None:
    main = UpliftConfig()
    result = run_experiment(build_world(resolve_spec("demo")), DemandConfig(), [main, NAIVE])
    rows = {r["model"]: r for r in result.table.iter_rows(named=True)}
    demand, uplift, naive = rows["demand"], rows[f"uplift:{main.variant}"], rows["uplift:naive"]
    assert demand["wape"] <= 0.25
    assert demand["elasticity_rank_corr"] >= 0.6
    assert uplift["elasticity_rank_corr"] >= 0.6
    assert uplift["elasticity_rank_corr"] > naive["elasticity_rank_corr"] + 0.2
    assert uplift["uplift_wape"] < naive["uplift_wape"]
    assert result.seconds["train_demand"] < 120
