"""SKU representation rules, the embedding cache, and the packaged sentence model."""

import hashlib

import duckdb
import numpy as np
import polars as pl
import pytest

from deeprule.features.embedding import (
    EmbeddingModelUnavailable,
    PackagedSentenceEncoder,
    cached_vectors,
    embed,
    store_vectors,
    text_key,
)
from deeprule.features.sku import SkuParams, classify, sku_features, texts_to_embed


def _hash_vectors(texts: list[str]) -> dict[str, np.ndarray]:
    return {t: np.frombuffer(hashlib.sha256(t.encode()).digest(), np.uint8) / 255.0
            for t in texts}


def _skus(n: int = 10) -> pl.DataFrame:
    return pl.DataFrame({
        "sku_id": [f"K{i}" for i in range(n)],
        "style_text": [f"style {i % 4}" for i in range(n)],
        "brand": [f"Brand{i}" for i in range(n)],  # n levels: embedded when n > limit
        "color": ["red", "blue"] * (n // 2),
        "pack_size": list(range(1, n + 1)),
        "list_price": [float(i) if i else None for i in range(n)],
    })


def test_columns_follow_the_sparse_dense_rule() -> None:
    skus = _skus()
    params = SkuParams(style_dims=3, onehot_max_levels=5, sparse_dims=2)
    cols = classify(skus, params)
    assert cols.dense == ["pack_size", "list_price"]
    assert cols.one_hot == ["color"]
    assert cols.embedded == ["brand"]
    out, rules = sku_features(skus, _hash_vectors(texts_to_embed(skus, params)), params)
    assert out.columns == ["sku_id", "style_pc_1", "style_pc_2", "style_pc_3", "pack_size",
                           "list_price", "color__blue", "color__red", "brand_emb_1",
                           "brand_emb_2"]
    assert all(dtype == pl.Float64 for dtype in out.drop("sku_id").dtypes)
    assert out.null_count().sum_horizontal().item() == 0
    assert out["list_price"][0] == 0.0  # missing -> catalogue mean -> 0 after z-scoring
    assert out["pack_size"].mean() == pytest.approx(0.0, abs=1e-12)
    assert rules["brand"].startswith("sparse: embedded")
    # same style text -> same style coordinates
    same = out.filter(pl.col("sku_id").is_in(["K0", "K4"])).drop("sku_id")
    np.testing.assert_allclose(same.select("^style_pc_.*$").row(0),
                               same.select("^style_pc_.*$").row(1), rtol=1e-9, atol=1e-12)


def test_more_style_dims_than_skus_are_zero_padded() -> None:
    skus = _skus(4)
    params = SkuParams(style_dims=6)
    out, _ = sku_features(skus, _hash_vectors(texts_to_embed(skus, params)), params)
    assert out.select([f"style_pc_{i}" for i in (5, 6)]).to_numpy().max() == 0.0


def test_embedding_cache_round_trip() -> None:
    class Counting:
        name = "counting"
        calls = 0

        def encode(self, texts: list[str]) -> np.ndarray:
            Counting.calls += len(texts)
            return np.vstack(list(_hash_vectors(texts).values()))

    conn = duckdb.connect()
    texts = ["a", "b", "a"]
    assert cached_vectors(conn, "counting", [text_key(t) for t in texts]) == {}
    first, fresh = embed(texts, Counting(), {})
    store_vectors(conn, "counting", fresh)
    cached = cached_vectors(conn, "counting", [text_key(t) for t in texts])
    again, fresh_again = embed(texts, Counting(), cached)
    np.testing.assert_allclose(first, again)
    assert fresh_again == {} and Counting.calls == 2
    assert cached_vectors(conn, "another-model", [text_key("a")]) == {}


def test_missing_model_package_names_the_package() -> None:
    encoder = PackagedSentenceEncoder(package="no_such_model_pkg", pip_name="no-such-model-pkg")
    with pytest.raises(EmbeddingModelUnavailable, match="pip install no-such-model-pkg"):
        encoder.encode(["anything"])


def test_packaged_minilm_embeds_offline() -> None:
    vectors = PackagedSentenceEncoder().encode(
        ["ocean blue striped bottle, sea breeze scent",
         "blue striped bottle smelling of the sea breeze",
         "charcoal geometric toilet roll, unscented"])
    assert vectors.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    sims = vectors @ vectors.T
    assert sims[0, 1] > sims[0, 2]
