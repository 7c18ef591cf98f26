"""Accuracy measures shared by training, the quality report and the evaluation."""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy.stats import spearmanr


def wape(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Weighted absolute percentage error: sum |error| / sum actual."""
    error = np.abs(np.asarray(actual) - np.asarray(predicted))
    total = float(np.sum(np.abs(actual)))
    return float(np.sum(error) / total) if total else 0.0


def mae(actual: np.ndarray, predicted: np.ndarray) -> float:
    error = np.abs(np.asarray(actual) - np.asarray(predicted))
    return float(np.mean(error)) if len(error) else 0.0


def rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman correlation; 0 when either side is constant or there are < 3 points."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0
    return float(spearmanr(a, b).statistic)


def grouped_mean(keys: pl.DataFrame, values: dict[str, np.ndarray]) -> pl.DataFrame:
    """Mean of each value array per distinct key row (e.g. customer x category)."""
    frame = keys.with_columns([pl.Series(k, np.asarray(v, dtype=np.float64))
                               for k, v in values.items()])
    return frame.group_by(keys.columns).agg([pl.col(k).mean() for k in values]).sort(keys.columns)
