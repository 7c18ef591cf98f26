"""A figure as asset metadata: a PNG embedded in markdown, shown inline by the Dagster UI."""

from __future__ import annotations

import base64

import dagster as dg
from matplotlib.figure import Figure

from deeprule.plots import to_png


def plot_metadata(fig: Figure, caption: str) -> dg.MetadataValue:
    encoded = base64.b64encode(to_png(fig)).decode("ascii")
    return dg.MetadataValue.md(f"{caption}\n\n![{caption}](data:image/png;base64,{encoded})")
