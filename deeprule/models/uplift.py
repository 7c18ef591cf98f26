"""The uplift scorer: change in units and net rate when a pair's price moves.

Predicts, per customer x SKU, Δunits and Δnet rate of a candidate price against
the logged one (the Ele.me small-model scorer). Logged discounts are
confounded (bigger and more price-sensitive customers got deeper ones), so two
switchable corrections are offered:

* propensity weighting: each training row is weighted by
  P(price bin) / P(price bin | context) (see `propensity.py`);
* adversarial balancing: a discriminator tries to recover the logged price
  from the shared representation; a gradient-reversal layer trains the encoder
  to defeat it, so the representation stops encoding who got which price;
* within-pair contrasts (shared with the demand model): price is measured
  against the pair's own usual price and the slope starts from the
  within-pair elasticity estimate, so promotions, not who was given a
  discount, identify the price effect.

With all three off, the same network is the naive fit the evaluation compares
against: price measured against its category's typical level, as a pooled
regression would. Monotonicity is structural, as in the demand model: units are
non-increasing and net rate non-decreasing in price for every row.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import polars as pl
import torch

from deeprule.models.demand import price_arrays
from deeprule.models.frames import FeatureSpec, ScoringFrame
from deeprule.models.metrics import wape
from deeprule.models.nets import UpliftNet, reverse_gradient
from deeprule.models.price import NetRateResponse, PriceResponse
from deeprule.models.propensity import (
    effective_sample_share,
    fit_propensity,
    treatment_imbalance,
)
from deeprule.models.training import (
    EpochModule,
    EpochSink,
    TrainConfig,
    batched_outputs,
    train_module,
)


@dataclass(frozen=True)
class UpliftConfig(TrainConfig):
    """De-confounding switches (all off = the naive fit) and loss weights."""

    propensity: bool = True
    adversarial: bool = True
    within_pair: bool = True
    adversarial_strength: float = 0.3
    rate_weight: float = 10.0

    @property
    def variant(self) -> str:
        switches = (("within_pair", self.within_pair), ("propensity", self.propensity),
                    ("adversarial", self.adversarial))
        return "+".join(name for name, on in switches if on) or "naive"

    def params(self) -> dict[str, object]:
        return {**super().params(), "variant": self.variant}


SWITCH_GRID = ((False, False, False), (False, True, False), (False, False, True),
               (False, True, True), (True, False, False))
"""(within_pair, propensity, adversarial) of the naive fit and the single-switch ablations
trained beside the registered variant (the naive fit first)."""


def ablation_grid(**settings: object) -> list[UpliftConfig]:
    """The naive fit, then each ablation of SWITCH_GRID, on the same training `settings`."""
    return [UpliftConfig(within_pair=w, propensity=p, adversarial=a, **settings)
            for w, p, a in SWITCH_GRID]


NAIVE_ELASTICITY = 1.0
"""Starting slope of the naive fit, which has no within-pair estimate to start from."""


def reference_view(frame: ScoringFrame, spec: FeatureSpec, within_pair: bool) -> ScoringFrame:
    """The frame as the chosen variant sees prices.

    Without within-pair contrasts, every row's reference price is its
    category's typical ratio and the slope starts from a constant, so the fit
    learns from all price variation, across customers included.
    """
    if within_pair:
        return frame
    default = pl.col("primary_category").replace_strict(spec.category_r_usual, default=0.0,
                                                        return_dtype=pl.Float64)
    rows = frame.rows.with_columns(r_usual=default, prior_elasticity=pl.lit(NAIVE_ELASTICITY),
                                   has_history=pl.lit(1.0))
    return ScoringFrame(rows, frame.high, frame.low)


def context_matrix(frame: ScoringFrame) -> np.ndarray:
    return np.concatenate([frame.high, frame.low], axis=1)


def uplift_priors(frame: ScoringFrame) -> np.ndarray:
    """(history log units, elasticity, usual net rate, its slope in r) per row."""
    usual_price = frame.column("list_price") * np.exp(frame.column("r_usual"))
    cost_share = frame.column("cost") / usual_price
    return np.column_stack([frame.column("prior_log_units"), frame.column("prior_elasticity"),
                            1.0 - cost_share, cost_share]).astype(np.float32)


class UpliftModule(EpochModule):
    """Weighted outcome losses plus the discriminator's loss through gradient reversal."""

    def __init__(self, net: UpliftNet, y_scale: float, config: UpliftConfig) -> None:
        super().__init__()
        self.net, self.y_scale, self.config = net, y_scale, config

    def _step(self, batch: tuple[torch.Tensor, ...]
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(weighted outcome loss, discriminator MSE, predicted units, unweighted loss)."""
        context, priors, phi, phi_usual, treatment, units, rate, weight = batch
        rep = self.net.representation(context)
        log_units, predicted_rate = self.net.outcomes(self.net.terms(context, priors, rep),
                                                      phi, phi_usual)
        predicted = torch.exp(log_units)
        outcome = (((predicted - units) / self.y_scale) ** 2
                   + self.config.rate_weight * (predicted_rate - rate) ** 2)
        adversary_input = (reverse_gradient(rep, self.config.adversarial_strength)
                           if self.config.adversarial else rep.detach())
        guess = self.net.discriminator(adversary_input)[:, 0]
        weighted = (weight * outcome).sum() / weight.sum()
        return weighted, ((guess - treatment) ** 2).mean(), predicted, outcome.mean()

    def training_step(self, batch: tuple[torch.Tensor, ...], _: int) -> torch.Tensor:
        loss, adversary, _, _ = self._step(batch)
        n = len(batch[0])
        self.add("train_loss", float(loss.detach()) * n, n)
        self.add("train_adversary_mse", float(adversary.detach()) * n, n)
        return loss + adversary

    def validation_step(self, batch: tuple[torch.Tensor, ...], _: int) -> None:
        _, adversary, predicted, outcome = self._step(batch)
        n = len(batch[0])
        self.add("val_loss", float(outcome) * n, n)
        self.add("val_adversary_mse", float(adversary) * n, n)
        self.add_accuracy(predicted, batch[5])

    def on_validation_epoch_end(self) -> None:
        self.finish_epoch({
            "train_loss": self.mean("train_loss"), "val_loss": self.mean("val_loss"),
            "val_wape": self.wape(),
            "train_adversary_mse": self.mean("train_adversary_mse"),
            "val_treatment_r2": 1.0 - self.mean("val_adversary_mse"),
        })

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.net.parameters(), lr=self.config.lr,
                                weight_decay=self.config.weight_decay)


@dataclass
class UpliftScorer:
    """A trained uplift network plus its feature spec."""

    net: UpliftNet
    spec: FeatureSpec
    within_pair: bool = True

    def responses(self, frame: ScoringFrame) -> tuple[PriceResponse, NetRateResponse]:
        """Units and net-rate terms per row; price sweeps need no further network call."""
        frame = reference_view(frame, self.spec, self.within_pair)
        self.net.eval()
        base, slopes, rate_base, rate_slopes = batched_outputs(
            self.net.terms, [context_matrix(frame), uplift_priors(frame)])
        r_usual, list_price = frame.column("r_usual"), frame.column("list_price")
        basis = self.spec.basis
        units = PriceResponse(base + basis.dot(slopes, r_usual, r_usual), slopes,
                              r_usual, list_price, basis)
        rate = NetRateResponse(rate_base - basis.dot(rate_slopes, r_usual, r_usual),
                               rate_slopes, r_usual, list_price, basis)
        return units, rate

    def effects(self, frame: ScoringFrame, new_price: np.ndarray) -> dict[str, np.ndarray]:
        """Δunits and Δnet rate of `new_price` against each row's logged unit_price."""
        units, rate = self.responses(frame)
        logged = frame.column("unit_price")
        return {"delta_units": units.units(new_price) - units.units(logged),
                "delta_net_rate": rate.rate(new_price) - rate.rate(logged)}


@dataclass
class UpliftFit:
    """The outcome of one training run and its de-confounding diagnostics."""

    scorer: UpliftScorer
    config: UpliftConfig
    history: list[dict[str, float]]
    best_epoch: int
    val_wape: float
    diagnostics: dict[str, float]
    seconds: float


def _treatment(frame: ScoringFrame) -> np.ndarray:
    return frame.column("r")


def _arrays(frame: ScoringFrame, spec: FeatureSpec, treatment_stats: tuple[float, float],
            weights: np.ndarray, training: bool) -> list[np.ndarray]:
    phi, phi_usual = price_arrays(frame, spec, training)
    mean, std = treatment_stats
    return [context_matrix(frame), uplift_priors(frame), phi, phi_usual,
            (_treatment(frame) - mean) / std, frame.column("units"),
            frame.column("net_rate"), weights]


def fit_uplift(train: ScoringFrame, val: ScoringFrame, spec: FeatureSpec,
               config: UpliftConfig | None = None, sink: EpochSink | None = None) -> UpliftFit:
    """Train one variant; diagnostics say how confounded the logged prices were."""
    config = config or UpliftConfig()
    started = time.perf_counter()
    train = reference_view(train, spec, config.within_pair)
    val = reference_view(val, spec, config.within_pair)
    context, treatment = context_matrix(train), _treatment(train)
    propensity = fit_propensity(context, treatment, seed=config.seed)
    weights = (propensity.weights(context, treatment) if config.propensity
               else np.ones(train.height))
    stats = (float(treatment.mean()), float(treatment.std() or 1.0))
    torch.manual_seed(config.seed)
    net = UpliftNet(context.shape[1], spec.basis.size, config.hidden, config.embed)
    history, best = train_module(
        UpliftModule(net, spec.y_scale, config), _arrays(train, spec, stats, weights, True),
        _arrays(val, spec, stats, np.ones(val.height), False), config, sink)
    scorer = UpliftScorer(net, spec, config.within_pair)
    units, _ = scorer.responses(val)
    diagnostics = {
        "propensity_r2": propensity.r2(context, treatment),
        "treatment_imbalance_raw": treatment_imbalance(context, treatment),
        "treatment_imbalance_weighted": treatment_imbalance(context, treatment, weights),
        "effective_sample_share": effective_sample_share(weights),
        "val_treatment_r2": history[best]["val_treatment_r2"] if history else 0.0,
    }
    return UpliftFit(scorer, config, history, best,
                     wape(val.column("units"), units.units(val.column("unit_price"))),
                     diagnostics, time.perf_counter() - started)
