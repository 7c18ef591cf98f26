"""The DNN sales-volume model: features -> expected units, monotone in price.

Revenue is never a network output: callers multiply predicted units by the
candidate price (the paper's feature-decoupled design), so the network learns
volume dynamics rather than price scaling. Loss: MSE on units (scaled by the
training mean) plus L2 weight decay; early stopping on later months.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from deeprule.models.frames import FeatureSpec, ScoringFrame
from deeprule.models.metrics import wape
from deeprule.models.nets import DemandNet
from deeprule.models.price import PriceResponse
from deeprule.models.training import (
    EpochModule,
    EpochSink,
    TrainConfig,
    batched_outputs,
    train_module,
)


@dataclass(frozen=True)
class DemandConfig(TrainConfig):
    """Dual-tower sizes and beta; `beta=None` picks beta from `beta_grid` on validation."""

    low_embed: int = 8
    beta: float | None = None
    beta_grid: tuple[float, ...] = (0.15, 0.3, 0.45)
    cv_epochs: int = 4
    cv_rows: int = 500_000
    """Rows (a seeded sample) each beta candidate trains on: ranking betas needs far fewer
    rows than the final fit, and at paper scale the full set would triple training time."""
    max_train_rows: int | None = None


class DemandModule(EpochModule):
    """MSE on units / y_scale; weight decay is the paper's L2 term."""

    def __init__(self, net: DemandNet, y_scale: float, lr: float, weight_decay: float) -> None:
        super().__init__()
        self.net, self.y_scale, self.lr, self.weight_decay = net, y_scale, lr, weight_decay

    def _loss(self, batch: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, torch.Tensor]:
        high, low, priors, phi, phi_usual, units = batch
        predicted = torch.exp(self.net(high, low, priors, phi, phi_usual))
        return (((predicted - units) / self.y_scale) ** 2).mean(), predicted

    def training_step(self, batch: tuple[torch.Tensor, ...], _: int) -> torch.Tensor:
        loss, _ = self._loss(batch)
        self.add("train_loss", float(loss.detach()) * len(batch[0]), len(batch[0]))
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, ...], _: int) -> None:
        loss, predicted = self._loss(batch)
        self.add("val_loss", float(loss) * len(batch[0]), len(batch[0]))
        self.add_accuracy(predicted, batch[5])

    def on_validation_epoch_end(self) -> None:
        self.finish_epoch({"train_loss": self.mean("train_loss"), "val_loss": self.mean("val_loss"),
                           "val_wape": self.wape()})

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.net.parameters(), lr=self.lr, weight_decay=self.weight_decay)


@dataclass
class DemandScorer:
    """A trained demand network plus the feature spec it was trained with."""

    net: DemandNet
    spec: FeatureSpec

    def response(self, frame: ScoringFrame) -> PriceResponse:
        """Per-row price-response terms; sweep prices on the result without the network."""
        self.net.eval()
        base, slopes = batched_outputs(self.net.terms, [frame.high, frame.low, prior_matrix(frame)])
        r_usual = frame.column("r_usual")
        level = base + self.spec.basis.dot(slopes, r_usual, r_usual)
        return PriceResponse(level, slopes, r_usual, frame.column("list_price"), self.spec.basis)

    def predict(self, frame: ScoringFrame) -> np.ndarray:
        """Expected units at each row's own unit_price."""
        return self.response(frame).units(frame.column("unit_price"))


@dataclass
class DemandFit:
    """The outcome of a training run, ready to log."""

    scorer: DemandScorer
    config: DemandConfig
    history: list[dict[str, float]]
    best_epoch: int
    val_wape: float
    seconds: float
    beta_scores: dict[float, float] = field(default_factory=dict)


def price_arrays(frame: ScoringFrame, spec: FeatureSpec,
                 training: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Basis values at the logged price and at the reference price.

    For training, a row whose pair has no history carries no within-pair price
    contrast, so its own price is its reference: it teaches the level only.
    Otherwise the network could explain volume by who was given a discount (big
    customers get deeper ones) rather than by what a discount does. For
    validation (`training=False`) every row is priced the way scoring prices
    it, so early stopping watches the accuracy that is reported.
    """
    r, r_usual = frame.column("r"), frame.column("r_usual")
    reference = np.where(frame.column("has_history") > 0, r_usual, r) if training else r_usual
    return spec.basis.numpy(r, reference), spec.basis.numpy(reference, reference)


def prior_matrix(frame: ScoringFrame) -> np.ndarray:
    """(history log units, within-pair elasticity) per row: what the network corrects."""
    return np.column_stack([frame.column("prior_log_units"),
                            frame.column("prior_elasticity")]).astype(np.float32)


def _arrays(frame: ScoringFrame, spec: FeatureSpec, training: bool) -> list[np.ndarray]:
    phi, phi_usual = price_arrays(frame, spec, training)
    return [frame.high, frame.low, prior_matrix(frame), phi, phi_usual, frame.column("units")]


def _train_once(train: ScoringFrame, val: ScoringFrame, spec: FeatureSpec,
                config: DemandConfig, beta: float, epochs: int,
                sink: EpochSink | None) -> tuple[DemandNet, list[dict[str, float]], int]:
    torch.manual_seed(config.seed)
    net = DemandNet(train.high.shape[1], train.low.shape[1], spec.basis.size, config.hidden,
                    config.embed, config.low_embed, beta)
    module = DemandModule(net, spec.y_scale, config.lr, config.weight_decay)
    history, best = train_module(module, _arrays(train, spec, True), _arrays(val, spec, False),
                                 replace(config, max_epochs=epochs), sink)
    return net, history, best


def _subsample(frame: ScoringFrame, limit: int | None, seed: int) -> ScoringFrame:
    if limit is None or frame.height <= limit:
        return frame
    keep = np.zeros(frame.height, dtype=bool)
    keep[np.random.default_rng(seed).choice(frame.height, limit, replace=False)] = True
    return frame.subset(keep)


def fit_demand(train: ScoringFrame, val: ScoringFrame, spec: FeatureSpec,
               config: DemandConfig | None = None, sink: EpochSink | None = None) -> DemandFit:
    """Pick beta on the validation months (short runs on a sample), then train with early
    stopping on all training rows."""
    config = config or DemandConfig()
    started = time.perf_counter()
    train = _subsample(train, config.max_train_rows, config.seed)
    scores: dict[float, float] = {}
    if config.beta is None:
        sample = _subsample(train, config.cv_rows, config.seed)
        for beta in config.beta_grid:
            net, _, _ = _train_once(sample, val, spec, config, beta, config.cv_epochs, None)
            scores[beta] = wape(val.column("units"), DemandScorer(net, spec).predict(val))
        config = replace(config, beta=min(scores, key=scores.get))
    net, history, best = _train_once(train, val, spec, config, float(config.beta),
                                     config.max_epochs, sink)
    scorer = DemandScorer(net, spec)
    return DemandFit(scorer, config, history, best,
                     wape(val.column("units"), scorer.predict(val)),
                     time.perf_counter() - started, scores)
