"""The price–shipment rule base R = strict constraints ∪ soft recommendations.

Rules are data, not code: each row names one of a closed set of templates,
the segment it covers and the constants fitted for it on the training rows.
Our code evaluates a template on whole columns (`rule_output`); nothing
proposed by an LLM is ever executed.

Templates (how each is made is in docs/quality.md):

- `scope_cap` (strict, per category): a customer ships few units of a SKU
  outside the category scope its documents declare — at most the 99th
  percentile of such training rows.
- `history_cap` (strict, per category): a month never exceeds a multiple of the
  pair's largest training month; the multiple is the 99.5th percentile of
  units over the leave-one-out maximum of the pair's other months.
- `elasticity_band` (soft, per category x price-sensitivity level): a deeper
  discount brings more units, never fewer: units = history mean x
  (price / usual price)^(-e), e fitted within pairs and clipped to a band.
- `new_pair_level` (soft, per category): a pair with no history ships about the
  category's median training month.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from deeprule.quality.context import PAIR, UNKNOWN

STRICT, SOFT = "strict", "soft"
TEMPLATES = {"scope_cap": STRICT, "history_cap": STRICT, "elasticity_band": SOFT,
             "new_pair_level": SOFT}
RULE_SCHEMA: dict[str, pl.DataType] = {
    "rule_id": pl.String(),
    "kind": pl.String(),
    "template": pl.String(),
    "primary_category": pl.String(),
    "sensitivity": pl.String(),
    "value": pl.Float64(),
    "support": pl.Int64(),
    "text": pl.String(),
}


@dataclass(frozen=True)
class RuleParams:
    """Constants of rule derivation (docs/quality.md, "Rule base")."""

    min_support: int = 5
    """A segment needs this many training rows before it gets its own rule."""
    scope_quantile: float = 0.99
    """A strict bound must hold for nearly all valid rows (on the demo world the 90th
    percentile capped 10% of held-out out-of-scope rows and raised WAPE 0.7 points)."""
    history_quantile: float = 0.995
    elasticity_band: tuple[float, float] = (0.2, 4.0)
    """Bounds on a fitted elasticity: 'not fewer units' (>0) and not absurdly steep."""


def _rule(template: str, category: str, sensitivity: str | None, value: float, support: int,
          text: str) -> dict:
    suffix = f":{sensitivity}" if sensitivity else ""
    return {"rule_id": f"{template}:{category}{suffix}", "kind": TEMPLATES[template],
            "template": template, "primary_category": category, "sensitivity": sensitivity,
            "value": float(value), "support": int(support), "text": text}


def _scope_rules(train: pl.DataFrame, p: RuleParams) -> list[dict]:
    outside = train.filter(pl.col("in_scope") == False)  # noqa: E712 (null = unknown)
    stats = outside.group_by("primary_category").agg(
        cap=pl.col("units").quantile(p.scope_quantile), n=pl.len())
    return [_rule("scope_cap", c, None, cap, n,
                  f"Strict rule: a customer buys little of a {c} SKU outside its declared "
                  f"category scope: at most {cap:.0f} units a month, whatever the discount.")
            for c, cap, n in stats.sort("primary_category").iter_rows() if n >= p.min_support]


def history_cap_multiple(train: pl.DataFrame, quantile: float) -> tuple[float, int]:
    """Quantile of units / (largest other month of the same pair), over pairs with 2+ months."""
    ranked = train.with_columns(
        top=pl.col("units").max().over(PAIR),
        second=pl.col("units").top_k(2).min().over(PAIR),
        n=pl.len().over(PAIR),
    ).filter(pl.col("n") >= 2)
    is_top = pl.col("units") == pl.col("top")
    other_max = pl.when(is_top).then(pl.col("second")).otherwise(pl.col("top"))
    ratio = ranked.select((pl.col("units") / pl.max_horizontal(other_max, 1.0)).alias("r"))["r"]
    if ratio.is_empty():
        return 2.0, 0
    return max(1.0, float(ratio.quantile(quantile) or 1.0)), ratio.len()


def _history_rules(train: pl.DataFrame, p: RuleParams) -> list[dict]:
    multiple, n = history_cap_multiple(train, p.history_quantile)
    categories = sorted(train.filter(pl.col("has_history"))["primary_category"].unique())
    return [_rule("history_cap", c, None, multiple, n,
                  f"Strict rule: a {c} pair with shipment history never ships more than "
                  f"{multiple:.2f} times its largest month so far.")
            for c in categories] if n >= p.min_support else []


def segment_elasticity(train: pl.DataFrame, band: tuple[float, float]) -> pl.DataFrame:
    """Within-pair slope of log units on log price per category x sensitivity, clipped to band.

    Deviations from each pair's own means remove who-got-which-discount (the
    logged policy's confounding across customers); what is left is the
    response to price changes inside a pair.
    """
    data = train.with_columns(y=(pl.col("units") + 0.5).log(), x=(1.0 - pl.col("discount")).log())
    data = data.with_columns(dy=pl.col("y") - pl.col("y").mean().over(PAIR),
                             dx=pl.col("x") - pl.col("x").mean().over(PAIR))
    return data.group_by("primary_category", "sensitivity").agg(
        sxy=(pl.col("dx") * pl.col("dy")).sum(), sxx=(pl.col("dx") ** 2).sum(), n=pl.len(),
    ).with_columns(
        e=pl.when(pl.col("sxx") > 1e-9).then(-pl.col("sxy") / pl.col("sxx"))
        .otherwise(1.0).clip(*band),
    ).sort("primary_category", "sensitivity")


def _elasticity_rules(train: pl.DataFrame, p: RuleParams) -> list[dict]:
    stats = segment_elasticity(train.filter(pl.col("has_history")), p.elasticity_band)
    lo, hi = p.elasticity_band
    return [_rule("elasticity_band", c, s, e, n,
                  f"Soft rule: for {s} price-sensitivity customers in {c}, a deeper discount "
                  f"than usual brings more units, never fewer; units move with price at "
                  f"elasticity {e:.2f} (band {lo:g} to {hi:g}) around the pair's usual volume.")
            for c, s, _, _, n, e in stats.iter_rows() if n >= p.min_support]


def _new_pair_rules(train: pl.DataFrame, p: RuleParams) -> list[dict]:
    stats = train.group_by("primary_category").agg(level=pl.col("units").median(), n=pl.len())
    return [_rule("new_pair_level", c, None, level, n,
                  f"Soft rule: a new {c} pair with no shipment history starts near the "
                  f"category's typical month of about {level:.0f} units.")
            for c, level, n in stats.sort("primary_category").iter_rows() if n >= p.min_support]


def build_rule_base(context: pl.DataFrame, params: RuleParams | None = None) -> pl.DataFrame:
    """Every rule the training rows support, one row each (see the module docstring)."""
    p = params or RuleParams()
    train = context.filter(pl.col("split") == "train")
    rows = [*_scope_rules(train, p), *_history_rules(train, p), *_elasticity_rules(train, p),
            *_new_pair_rules(train, p)]
    return pl.DataFrame(rows, schema=RULE_SCHEMA, orient="row") if rows else pl.DataFrame(
        schema=RULE_SCHEMA)


def applicable(context: pl.DataFrame, rules: pl.DataFrame) -> np.ndarray:
    """(samples x rules) mask: a rule may be retrieved only for samples its segment covers."""
    cat = context["primary_category"].to_numpy()[:, None] == rules["primary_category"].to_numpy()
    sens = context["sensitivity"].to_numpy()[:, None] == rules["sensitivity"].fill_null(
        UNKNOWN).to_numpy()
    template = rules["template"].to_numpy()
    history = context["has_history"].to_numpy()[:, None]
    outside = (context["in_scope"] == False).fill_null(False).to_numpy()[:, None]  # noqa: E712
    condition = np.select(
        [template == "scope_cap", template == "history_cap", template == "elasticity_band",
         template == "new_pair_level"],
        [outside, history, history & sens, ~history],
        default=False,
    )
    return cat & condition


def rule_output(context: pl.DataFrame, template: np.ndarray, value: np.ndarray,
                a_init: np.ndarray) -> np.ndarray:
    """g(x) per sample for its retrieved rule (NaN where it has none).

    Strict templates are bounds, so their output is the prediction moved to the
    nearest value the rule allows; soft templates give a rule-based estimate.
    """
    hist_max = context["hist_max_units"].fill_null(0.0).to_numpy()
    hist_mean = context["hist_mean_units"].fill_null(0.0).to_numpy()
    price_ratio = ((1.0 - context["discount"].to_numpy())
                   / np.maximum(1.0 - context["usual_discount"].fill_null(0.0).to_numpy(), 1e-6))
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.select(
            [template == "scope_cap", template == "history_cap",
             template == "elasticity_band", template == "new_pair_level"],
            [np.minimum(a_init, value), np.minimum(a_init, value * hist_max),
             hist_mean * np.power(np.maximum(price_ratio, 1e-6), -value), value],
            default=np.nan,
        )
    return np.where(np.isnan(out), np.nan, np.maximum(out, 0.0))
