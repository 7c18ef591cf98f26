"""Small matplotlib figures for asset metadata: where a person would rather look than read.

Figures are built with `matplotlib.figure.Figure` (no pyplot, no global state,
safe in Dagster's worker threads) and returned as PNG bytes; `assets/_plots`
embeds them in markdown so the Dagster UI shows them inline.
"""

from deeprule.plots.charts import (
    affiliation_map,
    convergence_curves,
    elasticity_scatter,
    fitness_trace,
    metric_bars,
    price_response_curves,
    sales_profit_scatter,
    to_png,
)

__all__ = ["affiliation_map", "convergence_curves", "elasticity_scatter", "fitness_trace",
           "metric_bars", "price_response_curves", "sales_profit_scatter", "to_png"]
