"""PyTorch Lightning plumbing shared by both scorers: data, early stopping, epoch metrics."""

from __future__ import annotations

import copy
import functools
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Self

import numpy as np
import psutil
import pytorch_lightning as pl
import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler, SequentialSampler

MONITOR = "val_wape"
"""What early stopping and best-weight selection watch. The loss is MSE (the
paper's), but MSE on later months rewards chasing a few large pairs; the
accuracy we report and plan with is volume-weighted absolute error."""
EpochSink = Callable[[dict[str, float], int], None]
"""Receives each epoch's metrics (e.g. to log them to MLflow)."""
SCORING_BATCH = 16_384
"""Rows per forward pass when scoring: activations stay in cache (measured faster per row
than 256k-row batches) while per-call overhead stays small."""


@dataclass(frozen=True)
class TrainConfig:
    """Settings both scorers share: layer sizes, optimizer and early stopping."""

    hidden: int = 64
    embed: int = 32
    lr: float = 5e-4
    weight_decay: float = 1e-4
    batch_size: int | None = None
    max_epochs: int = 40
    patience: int = 4
    seed: int = 0

    def params(self) -> dict[str, object]:
        """Flat values for MLflow (tuples as lists)."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_params(cls, params: Mapping[str, object]) -> Self:
        """The config `params()` described (lists back to tuples): a model trained again."""
        return cls(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in params.items()})


def batched_outputs(fn: Callable[..., Sequence[torch.Tensor]], arrays: Sequence[np.ndarray],
                    batch_size: int = SCORING_BATCH) -> list[np.ndarray]:
    """Apply `fn` to row batches of aligned arrays; each of its outputs concatenated (float64).

    One network call per batch, never per row: scoring stays vectorized.
    """
    previous = torch.get_num_threads()
    limit_threads(scoring=True)
    try:
        return _run_batches(fn, arrays, batch_size)
    finally:
        torch.set_num_threads(previous)  # training after a scoring pass stays single-threaded


def _run_batches(fn: Callable[..., Sequence[torch.Tensor]], arrays: Sequence[np.ndarray],
                 batch_size: int) -> list[np.ndarray]:
    """Each output written into one preallocated float64 array (no concatenation copies)."""
    rows = len(arrays[0])
    outputs: list[np.ndarray] = []
    with torch.inference_mode():
        for start in range(0, max(rows, 1), batch_size):  # one call if empty
            batch = fn(*(torch.from_numpy(np.ascontiguousarray(a[start:start + batch_size],
                                                               dtype=np.float32))
                         for a in arrays))
            if not outputs:
                outputs = [np.empty((rows, *value.shape[1:])) for value in batch]
            for out, value in zip(outputs, batch, strict=True):
                out[start:start + len(value)] = value.numpy()
    return outputs


def limit_threads(scoring: bool = False) -> int:
    """Set torch's intra-op threads: one for training; for scoring, two only on idle cores.

    Small networks on 1k-row batches gain nothing from a second thread, and
    OpenMP threads spin badly when another process holds a core (measured on a
    loaded 2-core machine: 40x slower epochs, and 1M-row scoring at 0.3M rows/s
    with two threads against 0.9M with one). Scoring therefore uses every core
    only while other processes leave them free.
    """
    cpus = os.cpu_count() or 1
    default = min(2, cpus) if scoring and _cores_left_by_others(_ten_second_slot()) >= 1.5 else 1
    torch.set_num_threads(default)
    return default


def _ten_second_slot() -> int:
    return int(time.monotonic() // 10)


@functools.lru_cache(maxsize=1)
def _cores_left_by_others(_slot: int, sample_s: float = 0.05) -> float:
    """Idle cores, sampled while this process sleeps (at most once per 10-second slot).

    The load average counts this process too, so a busy scorer would talk
    itself out of its own second thread; a short system-wide sample taken
    while it waits sees only the others.
    """
    busy_share = psutil.cpu_percent(interval=sample_s) / 100.0
    return (1.0 - busy_share) * (os.cpu_count() or 1)


class ArrayBatches(Dataset):
    """Whole-batch indexing into aligned float32 arrays (no per-row Python calls)."""

    def __init__(self, arrays: Sequence[np.ndarray]) -> None:
        self.tensors = [torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))
                        for a in arrays]

    def __len__(self) -> int:
        return len(self.tensors[0])

    def __getitem__(self, rows: list[int]) -> tuple[torch.Tensor, ...]:
        index = torch.as_tensor(rows)
        return tuple(t[index] for t in self.tensors)


def auto_batch_size(rows: int) -> int:
    """About a hundred steps per epoch, within [256, 16384] rows per batch."""
    return int(np.clip(rows // 100, 256, 16_384))


def loader(arrays: Sequence[np.ndarray], batch_size: int, shuffle: bool, seed: int) -> DataLoader:
    data = ArrayBatches(arrays)
    generator = torch.Generator().manual_seed(seed)
    order = RandomSampler(data, generator=generator) if shuffle else SequentialSampler(data)
    batches = BatchSampler(order, batch_size=batch_size, drop_last=False)
    return DataLoader(data, sampler=batches, batch_size=None)


class EpochModule(pl.LightningModule):
    """A LightningModule that sums its own per-epoch metrics.

    Lightning aggregates `self.log(on_epoch=True)` values only after the epoch-end
    hooks run, so callbacks would read last epoch's numbers; summing here keeps
    every recorded epoch exact. Subclasses call `add` from their steps.
    """

    def __init__(self) -> None:
        super().__init__()
        self._sums: dict[str, list[float]] = {}
        self.epoch_metrics: dict[str, float] = {}

    def add(self, name: str, total: float, count: float) -> None:
        entry = self._sums.setdefault(name, [0.0, 0.0])
        entry[0] += total
        entry[1] += count

    def add_accuracy(self, predicted: torch.Tensor, units: torch.Tensor) -> None:
        """Sum what validation WAPE needs."""
        self.add("abs_error", float((predicted - units).abs().sum()), 0)
        self.add("units", float(units.sum()), 0)

    def wape(self) -> float:
        return self.ratio("abs_error", "units")

    def ratio(self, numerator: str, denominator: str) -> float:
        return self._sums[numerator][0] / max(self._sums[denominator][0], 1e-12)

    def mean(self, name: str) -> float:
        """Mean of a summed metric; NaN when nothing was added (no training before step 0)."""
        total, count = self._sums.get(name, (0.0, 0.0))
        return total / count if count else float("nan")

    def finish_epoch(self, metrics: dict[str, float]) -> None:
        """Publish this epoch's metrics (the monitored one also to Lightning's early stopping)."""
        self.epoch_metrics = {k: v for k, v in metrics.items() if v == v}
        self.log(MONITOR, metrics[MONITOR])
        self._sums = {}


class BestWeights(pl.Callback):
    """Keep the weights of the best validation epoch and restore them when training ends."""

    def __init__(self, monitor: str = MONITOR) -> None:
        self.monitor = monitor
        self.best = float("inf")
        self.best_epoch = -1
        self.state: dict[str, torch.Tensor] | None = None

    def on_validation_end(self, trainer: pl.Trainer, module: EpochModule) -> None:
        value = module.epoch_metrics[self.monitor]
        if value < self.best:
            self.best, self.best_epoch = value, _step(trainer)
            self.state = copy.deepcopy(module.state_dict())

    def on_fit_end(self, trainer: pl.Trainer, module: EpochModule) -> None:
        if self.state is not None:
            module.load_state_dict(self.state)


class EpochMetrics(pl.Callback):
    """Collect every epoch's metrics and forward them to a sink."""

    def __init__(self, sink: EpochSink | None = None) -> None:
        self.sink = sink
        self.history: list[dict[str, float]] = []

    def on_validation_end(self, trainer: pl.Trainer, module: EpochModule) -> None:
        self.history.append(dict(module.epoch_metrics))
        if self.sink is not None:
            self.sink(dict(module.epoch_metrics), _step(trainer))


def _step(trainer: pl.Trainer) -> int:
    """0 for the validation pass before training (the untrained network, i.e. the
    priors), k after the k-th epoch."""
    return 0 if trainer.sanity_checking else trainer.current_epoch + 1


def train_module(module: EpochModule, train: Sequence[np.ndarray], val: Sequence[np.ndarray],
                 config: TrainConfig, sink: EpochSink | None = None
                 ) -> tuple[list[dict[str, float]], int]:
    """Batch the aligned arrays (shuffled for training) and fit with early stopping."""
    limit_threads()
    batch = config.batch_size or auto_batch_size(len(train[0]))
    return run_training(module, loader(train, batch, True, config.seed),
                        loader(val, 8 * batch, False, config.seed),
                        config.max_epochs, config.patience, sink)


def run_training(module: EpochModule, train: DataLoader, val: DataLoader,
                 max_epochs: int, patience: int, sink: EpochSink | None = None
                 ) -> tuple[list[dict[str, float]], int]:
    """Fit with early stopping on validation WAPE; returns (history, best step).

    A full validation pass runs before the first epoch, so the untrained
    network (which predicts exactly its priors) competes too: training must beat
    the priors on later months to be kept.
    """
    for name in ("pytorch_lightning", "lightning.pytorch", "lightning_fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)
    best = BestWeights()
    epochs = EpochMetrics(sink)
    trainer = pl.Trainer(
        max_epochs=max_epochs, accelerator="cpu", devices=1, logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        num_sanity_val_steps=-1, gradient_clip_val=5.0,
        callbacks=[pl.callbacks.EarlyStopping(MONITOR, patience=patience, mode="min"),
                   best, epochs],
    )
    trainer.fit(module, train, val)
    return epochs.history, best.best_epoch
