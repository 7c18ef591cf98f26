"""Printing a benchmark's per-seed table and its mean per variant, one format for all."""

from __future__ import annotations

import polars as pl


def print_seeds_and_mean(table: pl.DataFrame, variant: str, order: tuple[str, ...],
                         seed: str, title: str, mean_title: str) -> None:
    """`table` (one row per seed and variant), then its mean per `variant` in `order`."""
    rank = {name: i for i, name in enumerate(order)}
    mean = (table.group_by(variant).agg(pl.exclude(seed, variant).mean())
            .sort(pl.col(variant).replace_strict(rank)))
    with pl.Config(tbl_rows=50, tbl_width_chars=160, float_precision=3,
                   tbl_hide_dataframe_shape=True, tbl_hide_column_data_types=True):
        print(title)
        print(table)
        print(mean_title)
        print(mean)
