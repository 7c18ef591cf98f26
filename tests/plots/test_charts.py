"""Each chart renders to a real PNG from plain inputs (the UI shows these inline)."""

import numpy as np
import polars as pl

from assets._plots import plot_metadata
from deeprule.plots import (
    affiliation_map,
    elasticity_scatter,
    metric_bars,
    price_response_curves,
    sales_profit_scatter,
    to_png,
)
from tests.helpers.plots import embedded_png


def test_every_chart_renders_a_png() -> None:
    rng = np.random.default_rng(0)
    stores = pl.DataFrame({"latitude": rng.uniform(20, 40, 300),
                           "longitude": rng.uniform(100, 120, 300)})
    customers = pl.DataFrame({"latitude": [30.0, 35.0], "longitude": [110.0, 115.0]})
    cells = pl.DataFrame({"true": rng.normal(-2, 0.5, 50), "predicted": rng.normal(-2, 0.5, 50)})
    figures = [
        price_response_curves(np.array([0.9, 1.0, 1.1]), {"c1 × s1": np.array([12.0, 10, 7])}),
        elasticity_scatter({"demand": cells, "uplift:naive": cells}),
        affiliation_map(stores, rng.random(300) < 0.8, customers, np.array([200.0, 150.0])),
        metric_bars(["profile · categories (f1)", "approval · approved (accuracy)"],
                    [0.8, None], "quality"),
        sales_profit_scatter(["logged", "oracle"], [100.0, 80.0], [20.0, 35.0]),
    ]
    for figure in figures:
        assert to_png(figure).startswith(b"\x89PNG")
    assert len(embedded_png(plot_metadata(figures[0], "caption"))) > 1_000
