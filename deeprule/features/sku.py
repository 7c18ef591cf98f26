"""SKU representation e_SKU = [e_style; e_dense; e_sparse], every column Float64.

- style: the style text's sentence embedding, reduced by PCA to `style_dims`;
- dense: numeric attributes, z-scored over the catalogue (missing -> mean -> 0);
- sparse: text attributes; one-hot when they have at most `onehot_max_levels`
  levels, otherwise the embedding of "<attribute>: <value>" reduced by PCA to
  `sparse_dims` (so a new brand lands near similar names instead of nowhere).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from sklearn.decomposition import PCA

from deeprule.features.customer import column_slug, one_hot

KEY = "sku_id"
STYLE_COLUMN = "style_text"
MISSING_LEVEL = "(missing)"


@dataclass(frozen=True)
class SkuParams:
    """Output sizes of the SKU representation (docs/features.md)."""

    style_dims: int = 8
    onehot_max_levels: int = 12
    sparse_dims: int = 4

    def __post_init__(self) -> None:
        if min(self.style_dims, self.onehot_max_levels, self.sparse_dims) < 1:
            raise ValueError(f"SKU feature sizes must be positive, got {self}")


@dataclass(frozen=True)
class SkuColumns:
    """How each raw SKU column is represented."""

    dense: list[str]
    one_hot: list[str]
    embedded: list[str]


def classify(skus: pl.DataFrame, params: SkuParams) -> SkuColumns:
    """Numeric -> dense; text -> one-hot or embedded by its number of levels."""
    dense, onehot, embedded = [], [], []
    for name, dtype in skus.schema.items():
        if name in (KEY, STYLE_COLUMN):
            continue
        if dtype.is_numeric():
            dense.append(name)
        elif dtype == pl.String or dtype == pl.Categorical:
            levels = skus[name].cast(pl.String).fill_null(MISSING_LEVEL).n_unique()
            (onehot if levels <= params.onehot_max_levels else embedded).append(name)
    return SkuColumns(dense=dense, one_hot=onehot, embedded=embedded)


def level_text(column: str, value: str) -> str:
    """What is embedded for one level of a high-cardinality attribute."""
    return f"{column.replace('_', ' ')}: {value}"


def texts_to_embed(skus: pl.DataFrame, params: SkuParams) -> list[str]:
    """Every distinct text the representation needs a vector for."""
    texts = skus[STYLE_COLUMN].cast(pl.String).fill_null("").to_list()
    for column in classify(skus, params).embedded:
        values = skus[column].cast(pl.String).fill_null(MISSING_LEVEL).unique().to_list()
        texts.extend(level_text(column, v) for v in values)
    return sorted(set(texts))


def _pca(matrix: np.ndarray, dims: int) -> tuple[np.ndarray, float]:
    """Project onto the top `dims` principal components (fewer rows -> fewer components,
    zero-padded); also the share of variance kept."""
    out = np.zeros((matrix.shape[0], dims))
    keep = min(dims, matrix.shape[0], matrix.shape[1])
    if keep == 0:
        return out, 0.0
    pca = PCA(n_components=keep, svd_solver="full", random_state=0)
    out[:, :keep] = pca.fit_transform(matrix)
    kept = float(np.nansum(pca.explained_variance_ratio_))
    return out, kept


def _dense(skus: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    values = skus.select(pl.col(columns).cast(pl.Float64).fill_nan(None))
    return values.with_columns(
        ((pl.col(c).fill_null(pl.col(c).mean()) - pl.col(c).mean())
         / pl.when(pl.col(c).std(ddof=0) > 0).then(pl.col(c).std(ddof=0)).otherwise(1.0))
        .fill_null(0.0).alias(c)
        for c in columns
    )


def _embedded(skus: pl.DataFrame, column: str, vectors: dict[str, np.ndarray],
              dims: int) -> tuple[pl.DataFrame, float]:
    values = skus[column].cast(pl.String).fill_null(MISSING_LEVEL).to_list()
    levels = sorted(set(values))
    reduced, kept = _pca(np.vstack([vectors[level_text(column, v)] for v in levels]), dims)
    row = {level: i for i, level in enumerate(levels)}
    picked = reduced[[row[v] for v in values]]
    slug = column_slug(column)
    return pl.DataFrame({f"{slug}_emb_{i + 1}": picked[:, i] for i in range(dims)}), kept


def sku_features(skus: pl.DataFrame, vectors: dict[str, np.ndarray],
                 params: SkuParams) -> tuple[pl.DataFrame, dict[str, str]]:
    """sku_id + Float64 columns, and per raw column the rule that was applied.

    `vectors` maps every text of `texts_to_embed` to its embedding.
    """
    columns = classify(skus, params)
    style_texts = skus[STYLE_COLUMN].cast(pl.String).fill_null("").to_list()
    style, kept = _pca(np.vstack([vectors[t] for t in style_texts]), params.style_dims)
    parts = [
        skus.select(KEY),
        pl.DataFrame({f"style_pc_{i + 1}": style[:, i] for i in range(params.style_dims)}),
        _dense(skus, columns.dense),
    ]
    rules = {STYLE_COLUMN: f"sentence embedding -> PCA {params.style_dims} "
                           f"({kept:.0%} of variance)"}
    rules.update({c: "dense: z-score" for c in columns.dense})
    for column in columns.one_hot:
        encoded = one_hot(skus, column, KEY).drop(KEY)
        parts.append(encoded)
        rules[column] = f"sparse: one-hot ({encoded.width} levels)"
    for column in columns.embedded:
        frame, kept = _embedded(skus, column, vectors, params.sparse_dims)
        parts.append(frame)
        rules[column] = (f"sparse: embedded, {skus[column].n_unique()} levels -> PCA "
                         f"{params.sparse_dims} ({kept:.0%} of variance)")
    out = pl.concat(parts, how="horizontal")
    return out.with_columns(pl.exclude(KEY).cast(pl.Float64)), rules
