"""The types the scorers pass around: source tables, the fitted feature spec, scoring frames.

Fitting and assembling them is `deeprule/models/matrix.py`; these types are what
the models, the registry, the search and the evaluation share.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from deeprule.models.price import PriceBasis


@dataclass
class SourceTables:
    """The tables a scorer reads; feature tables are optional (raw-only still works)."""

    shipments: pl.DataFrame
    skus: pl.DataFrame
    customer_features: pl.DataFrame | None = None
    sku_features: pl.DataFrame | None = None
    customer_category_features: pl.DataFrame | None = None
    customer_priors: pl.DataFrame | None = None
    """The LLM's document facts (`customer_priors`); None = a model without document features."""


@dataclass
class FeatureSpec:
    """Everything fitted on the training months that scoring must reproduce."""

    high_columns: list[str]
    low_columns: list[str]
    zscore: dict[str, tuple[float, float]]
    categories: list[str]
    sku_profile: dict[str, list[float]]
    sku_elasticity: dict[str, float]
    cc_sensitivity: dict[str, float]
    category_r_usual: dict[str, float]
    y_scale: float
    origin: int
    train_months: list[str]
    basis: PriceBasis = field(default_factory=PriceBasis)

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "basis"}
        out["zscore"] = {k: list(v) for k, v in self.zscore.items()}
        out["basis"] = self.basis.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureSpec:
        values = dict(data)
        values["zscore"] = {k: (float(v[0]), float(v[1])) for k, v in data["zscore"].items()}
        values["basis"] = PriceBasis.from_dict(data["basis"])
        return cls(**values)

    def schema(self) -> dict[str, list[str]]:
        """The input contract: which columns feed which tower, in order."""
        return {"high": self.high_columns, "low": self.low_columns,
                "price": ["r = log(unit_price / list_price)", "r_usual"]}


@dataclass
class ScoringFrame:
    """Rows to score and their standardized matrices, aligned row by row."""

    rows: pl.DataFrame
    high: np.ndarray
    low: np.ndarray

    @property
    def height(self) -> int:
        return self.rows.height

    def column(self, name: str) -> np.ndarray:
        return self.rows.get_column(name).to_numpy().astype(np.float64)

    def subset(self, mask: np.ndarray) -> ScoringFrame:
        idx = np.flatnonzero(mask)
        return ScoringFrame(self.rows[idx], self.high[idx], self.low[idx])
