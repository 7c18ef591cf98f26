"""The uplift model: monotone effects of a price move, switchable de-confounding, propensity."""

import numpy as np
import pytest

from deeprule.models.dataset import ScorerData
from deeprule.models.propensity import effective_sample_share, fit_propensity, treatment_imbalance
from deeprule.models.uplift import UpliftConfig, UpliftFit, UpliftScorer, fit_uplift

MOVES = np.linspace(0.5, 1.8, 27)


def test_units_fall_and_net_rate_rises_along_a_price_sweep(uplift_fit: UpliftFit,
                                                           tiny_data: ScorerData) -> None:
    frame = tiny_data.test
    units, rate = uplift_fit.scorer.responses(frame)
    logged = frame.column("unit_price")
    unit_curves = np.stack([units.units(logged * m) for m in MOVES])
    rate_curves = np.stack([rate.rate(logged * m) for m in MOVES])
    assert frame.height > 100
    assert np.all(unit_curves >= 0)
    assert np.all(np.diff(unit_curves, axis=0) <= 1e-9 * np.maximum(unit_curves[:-1], 1.0))
    assert np.all(np.diff(rate_curves, axis=0) >= -1e-12)


def test_effects_are_relative_to_the_logged_price(uplift_fit: UpliftFit,
                                                  tiny_data: ScorerData) -> None:
    frame = tiny_data.valid
    logged = frame.column("unit_price")
    unchanged = uplift_fit.scorer.effects(frame, logged)
    assert np.allclose(unchanged["delta_units"], 0) and np.allclose(unchanged["delta_net_rate"], 0)
    rise = uplift_fit.scorer.effects(frame, logged * 1.1)
    cut = uplift_fit.scorer.effects(frame, logged * 0.9)
    assert np.all(rise["delta_units"] <= 0) and np.all(rise["delta_net_rate"] >= 0)
    assert np.all(cut["delta_units"] >= 0) and np.all(cut["delta_net_rate"] <= 0)


def test_untrained_net_rate_head_is_the_accounting_identity(tiny_data: ScorerData) -> None:
    """Before training, net rate at the usual price is 1 - cost / usual price."""
    fit = fit_uplift(tiny_data.train, tiny_data.valid, tiny_data.spec,
                     UpliftConfig(max_epochs=0, propensity=False, adversarial=False))
    frame = tiny_data.valid
    _, rate = fit.scorer.responses(frame)
    usual = frame.column("list_price") * np.exp(frame.column("r_usual"))
    np.testing.assert_allclose(rate.rate(usual), 1 - frame.column("cost") / usual, atol=1e-5)


def test_switches_name_the_variant_and_change_the_fit(tiny_data: ScorerData) -> None:
    naive = UpliftConfig(propensity=False, adversarial=False, within_pair=False, max_epochs=1)
    assert naive.variant == "naive"
    assert UpliftConfig().variant == "within_pair+propensity+adversarial"
    fits = {c.variant: fit_uplift(tiny_data.train, tiny_data.valid, tiny_data.spec, c)
            for c in (naive, UpliftConfig(max_epochs=1))}
    weighted = fits["within_pair+propensity+adversarial"].diagnostics
    plain = fits["naive"].diagnostics
    assert plain["effective_sample_share"] == pytest.approx(1.0)
    assert weighted["effective_sample_share"] < 1.0
    assert weighted["treatment_imbalance_weighted"] < weighted["treatment_imbalance_raw"]
    assert isinstance(fits["naive"].scorer, UpliftScorer) and not fits["naive"].scorer.within_pair


def test_propensity_weights_balance_a_confounded_treatment() -> None:
    rng = np.random.default_rng(0)
    context = rng.normal(size=(5_000, 4))
    treatment = 0.8 * context[:, 0] - 0.5 * context[:, 1] + rng.normal(0, 0.6, 5_000)
    model = fit_propensity(context, treatment)
    weights = model.weights(context, treatment)
    assert model.r2(context, treatment) > 0.5
    assert weights.mean() == pytest.approx(1.0)
    assert treatment_imbalance(context, treatment, weights) < 0.5 * treatment_imbalance(
        context, treatment)
    assert 0 < effective_sample_share(weights) < 1
    unconfounded = rng.normal(size=5_000)
    assert fit_propensity(context, unconfounded).r2(context, unconfounded) < 0.01
    with pytest.raises(ValueError, match="at least two"):
        fit_propensity(context[:1], treatment[:1])
