"""The product catalogue and each SKU's hidden demand parameters.

Price response is where premium and everyday goods differ: everyday SKUs are
elastic and turn sharply more so just below list price, premium SKUs barely
react to discounts and only turn elastic above list. Style words carry real
appeal, so a model that reads `style_text` can learn something from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from deeprule.schema import SKUS
from deeprule.synth.rng import stream
from deeprule.synth.spec import WorldSpec
from deeprule.synth.vocab import (
    BRANDS,
    COLORS,
    PACK_SIZES,
    PACKAGING,
    PATTERNS,
    PREMIUM_CATEGORIES,
    PRIMARY_CATEGORIES,
    SCENTS,
    SECONDARY_CATEGORIES,
)

# typical list price, seasonal amplitude and peak month per primary category
CATEGORY_PRICE = {
    "Fragrance": 42.0, "Skin Care": 26.0, "Hair Care": 7.5, "Laundry": 9.0,
    "Home Cleaning": 5.0, "Oral Care": 4.0, "Bath & Body": 6.0, "Paper Goods": 5.5,
}
CATEGORY_SEASON = {
    "Fragrance": (0.35, 12.0), "Skin Care": (0.22, 6.5), "Hair Care": (0.08, 7.0),
    "Laundry": (0.10, 7.5), "Home Cleaning": (0.20, 4.0), "Oral Care": (0.05, 1.0),
    "Bath & Body": (0.15, 7.0), "Paper Goods": (0.10, 1.5),
}
CATEGORY_WEIGHT_G = {
    "Fragrance": 120.0, "Skin Care": 80.0, "Hair Care": 400.0, "Laundry": 1500.0,
    "Home Cleaning": 750.0, "Oral Care": 120.0, "Bath & Body": 350.0, "Paper Goods": 600.0,
}
EXTRA_ATTRIBUTES = {
    "net_weight_g": pl.Float64, "packaging": pl.String,
    "shelf_life_months": pl.Int64, "launch_month": pl.Date,
}
NEW_SKU_SHARE = 0.25
"""Share of the catalogue launched after the history starts (a few SKUs every quarter)."""
LAUNCH_HORIZON_MONTHS = 36
"""New SKUs launch within this many months of the start (fixed, so a longer world
changes none of its earlier months; launches past the world's end are announced ones)."""
COST_SHARE_OLD = (0.45, 0.92)
"""Cost as a share of wholesale price for established lines (some have become low-margin)."""
COST_SHARE_NEW = (0.40, 0.65)
"""New launches are priced with fuller margins than commoditized older lines."""
NEW_APPEAL = 0.25
"""Extra style appeal of a new launch (reformulated, refreshed packs)."""
# (below-kink elasticity, above-kink elasticity, kink as a share of list price)
EVERYDAY_ELASTICITY = (0.8, 2.8, 0.95)
PREMIUM_ELASTICITY = (0.25, 1.3, 1.05)
PRICE_CURVATURE = 0.4


@dataclass(frozen=True)
class Skus:
    """Observable SKU table plus per-SKU truth arrays, all aligned by SKU index."""

    frame: pl.DataFrame
    categories: list[str]
    brands: list[str]
    category: np.ndarray
    brand: np.ndarray
    premium: np.ndarray
    list_price: np.ndarray
    elasticity_below: np.ndarray
    elasticity_above: np.ndarray
    kink_ratio: np.ndarray
    curvature: np.ndarray
    season_amplitude: np.ndarray
    season_peak_month: np.ndarray
    trend_per_year: np.ndarray
    appeal: np.ndarray
    volume_level: np.ndarray
    launch: np.ndarray
    """Month index the SKU is launched in (-1: on sale before the history starts)."""

    def cost_share(self) -> np.ndarray:
        """Unit cost as a share of list price (high: a low-margin line)."""
        return self.frame["cost"].to_numpy() / self.list_price

    def brand_category_presence(self) -> np.ndarray:
        """(n_brands, n_categories): whether the brand sells any SKU in the category."""
        out = np.zeros((len(self.brands), len(self.categories)), dtype=bool)
        out[self.brand, self.category] = True
        return out

    def truth_frame(self) -> pl.DataFrame:
        """Per-SKU hidden parameters (evaluation only)."""
        return pl.DataFrame({
            "sku_id": self.frame["sku_id"],
            "primary_category": self.frame["primary_category"],
            "brand": self.frame["brand"],
            "premium": self.premium,
            "reference_price": self.list_price,
            "elasticity_below_kink": self.elasticity_below,
            "elasticity_above_kink": self.elasticity_above,
            "kink_price_ratio": self.kink_ratio,
            "price_curvature": self.curvature,
            "season_amplitude": self.season_amplitude,
            "season_peak_month": self.season_peak_month,
            "trend_per_year": self.trend_per_year,
            "style_appeal": self.appeal,
            "base_volume": self.volume_level,
            "launch_index": self.launch,
        })


def secondary_layout(spec: WorldSpec) -> list[tuple[str, str]]:
    """(secondary, primary) pairs: the secondaries spread evenly under the primaries."""
    n_pri, n_sec = spec.n_primary_categories, spec.n_secondary_categories
    if not 1 <= n_pri <= len(PRIMARY_CATEGORIES):
        raise ValueError(f"n_primary_categories must be 1..{len(PRIMARY_CATEGORIES)}, got {n_pri}")
    per = [n_sec // n_pri + (1 if i < n_sec % n_pri else 0) for i in range(n_pri)]
    if n_sec < n_pri or max(per) > min(len(v) for v in SECONDARY_CATEGORIES.values()):
        raise ValueError(
            f"n_secondary_categories={n_sec} must be between n_primary_categories={n_pri} "
            f"and {n_pri * 5}"
        )
    return [(SECONDARY_CATEGORIES[p][j], p)
            for p, k in zip(PRIMARY_CATEGORIES[:n_pri], per, strict=True) for j in range(k)]


def make_skus(spec: WorldSpec) -> Skus:
    """Catalogue: categories, brands, style, prices, extra attributes and demand truth."""
    if not 1 <= spec.n_brands <= len(BRANDS):
        raise ValueError(f"n_brands must be 1..{len(BRANDS)}, got {spec.n_brands}")
    rng = stream(spec.seed, "skus")
    n = spec.n_skus
    categories = list(PRIMARY_CATEGORIES[: spec.n_primary_categories])
    brands = list(BRANDS[: spec.n_brands])
    layout = secondary_layout(spec)
    sec_idx = np.concatenate([
        rng.permutation(len(layout))[: min(n, len(layout))],
        rng.choice(len(layout), size=max(0, n - len(layout)), p=_even_by_primary(layout)),
    ])
    sec_idx = rng.permutation(sec_idx)
    secondary = np.array([layout[i][0] for i in sec_idx], dtype=object)
    cat = np.array([categories.index(layout[i][1]) for i in sec_idx])
    brand, brand_premium = _assign_brands(rng, cat, len(brands), categories)
    cat_premium = np.array([c in PREMIUM_CATEGORIES for c in categories])[cat]
    premium = cat_premium | (brand_premium[brand] & (rng.random(n) < 0.4))
    pack = rng.choice(np.array(PACK_SIZES), size=n, p=_pack_probs())
    launch = launch_months(spec)
    list_price, wholesale, cost = _prices(rng, cat, categories, premium & ~cat_premium, pack,
                                          launch >= 0)
    color, pattern, scent = (rng.integers(0, len(v), n) for v in (COLORS, PATTERNS, SCENTS))
    appeal = (rng.normal(0, 0.25, len(COLORS))[color] + rng.normal(0, 0.15, len(PATTERNS))[pattern]
              + rng.normal(0, 0.25, len(SCENTS))[scent] + rng.normal(0, 0.15, n)
              + np.where(launch >= 0, NEW_APPEAL, 0.0))
    volume = np.exp(appeal) * np.where(premium, 0.5, 1.0) * pack.astype(float) ** -0.3
    e_below, e_above, kink = _elasticities(rng, premium)
    amp, peak, trend = _seasonality(rng, cat, categories)
    frame = pl.DataFrame(
        {
            "sku_id": [f"SKU{i:0{max(4, len(str(n)))}d}" for i in range(1, n + 1)],
            "primary_category": [categories[c] for c in cat],
            "secondary_category": secondary.tolist(),
            "brand": [brands[b] for b in brand],
            "style_text": _style_texts(rng, color, pattern, scent, secondary),
            "color": [COLORS[i] for i in color],
            "pattern": [PATTERNS[i] for i in pattern],
            "scent": [SCENTS[i] for i in scent],
            "pack_size": pack.astype(np.int64),
            "cost": cost,
            "wholesale_price": wholesale,
            "list_price": list_price,
            **_extra_attributes(rng, cat, categories, pack, spec, launch),
        },
        schema={**SKUS.polars_schema(), **EXTRA_ATTRIBUTES},
    )
    return Skus(
        frame=frame, categories=categories, brands=brands, category=cat, brand=brand,
        premium=premium, list_price=list_price, elasticity_below=e_below,
        elasticity_above=e_above, kink_ratio=kink,
        curvature=PRICE_CURVATURE * np.exp(rng.normal(0, 0.1, n)),
        season_amplitude=amp, season_peak_month=peak, trend_per_year=trend,
        appeal=appeal, volume_level=volume, launch=launch,
    )


def launch_months(spec: WorldSpec) -> np.ndarray:
    """Month index of each SKU's launch: -1 for most, a few SKUs every quarter."""
    rng = stream(spec.seed, "launches")
    n_new = min(int(round(NEW_SKU_SHARE * spec.n_skus)), spec.n_skus - 1)
    out = np.full(spec.n_skus, -1, dtype=np.int64)
    new = rng.choice(spec.n_skus, size=max(n_new, 0), replace=False)
    out[new] = np.sort(rng.integers(1, LAUNCH_HORIZON_MONTHS, len(new)))
    return out


def _even_by_primary(layout: list[tuple[str, str]]) -> np.ndarray:
    """Draw weights over secondaries that give every primary category the same share."""
    parents = [p for _, p in layout]
    weights = np.array([1.0 / parents.count(p) for p in parents])
    return weights / weights.sum()


def _pack_probs() -> np.ndarray:
    weights = np.array([6.0, 3.0, 2.0, 2.0, 1.5, 1.0, 0.5])
    return weights / weights.sum()


def _assign_brands(
    rng: np.random.Generator, cat: np.ndarray, n_brands: int, categories: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Each brand sells in a main category and maybe a few others; SKUs pick a brand there."""
    n_cat = len(categories)
    sells = rng.random((n_brands, n_cat)) < 0.25
    sells[np.arange(n_brands), np.arange(n_brands) % n_cat] = True
    sells[np.arange(n_cat) % n_brands, np.arange(n_cat)] = True
    main_premium = np.array([categories[b % n_cat] in PREMIUM_CATEGORIES for b in range(n_brands)])
    brand_premium = rng.random(n_brands) < np.where(main_premium, 0.7, 0.2)
    keys = np.where(sells[:, cat].T, rng.random((len(cat), n_brands)), -1.0)
    return keys.argmax(axis=1), brand_premium


def _prices(
    rng: np.random.Generator, cat: np.ndarray, categories: list[str],
    premium_line: np.ndarray, pack: np.ndarray, new: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """List price from category, premium line and pack; cost < wholesale < list after rounding."""
    base = np.array([CATEGORY_PRICE[c] for c in categories])[cat]
    raw = base * np.exp(rng.normal(0, 0.3, len(cat))) * pack.astype(float) ** 0.7
    raw *= np.where(premium_line, 1.8, 1.0)
    list_price = np.maximum(0.99, np.round(raw, 1) - 0.01)
    wholesale = np.round(list_price * rng.uniform(0.80, 0.90, len(cat)), 2)
    share = np.where(new, rng.uniform(*COST_SHARE_NEW, len(cat)),
                     rng.uniform(*COST_SHARE_OLD, len(cat)))
    cost = np.round(wholesale * share, 2)
    return list_price, wholesale, cost


def _elasticities(
    rng: np.random.Generator, premium: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Below/above-kink elasticities and the kink position, by regime with SKU jitter."""
    n = len(premium)
    params = np.where(premium[:, None], PREMIUM_ELASTICITY, EVERYDAY_ELASTICITY)
    below = params[:, 0] * np.exp(rng.normal(0, 0.12, n))
    above = params[:, 1] * np.exp(rng.normal(0, 0.12, n))
    kink = params[:, 2] + rng.uniform(-0.03, 0.03, n)
    return below, above, kink


def _seasonality(
    rng: np.random.Generator, cat: np.ndarray, categories: list[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seasonal amplitude and peak from the category, trend shared within a category."""
    n = len(cat)
    amp0 = np.array([CATEGORY_SEASON[c][0] for c in categories])[cat]
    peak0 = np.array([CATEGORY_SEASON[c][1] for c in categories])[cat]
    amp = np.clip(amp0 * np.exp(rng.normal(0, 0.2, n)), 0.0, 0.6)
    peak = np.mod(peak0 - 1.0 + rng.normal(0, 0.6, n), 12.0) + 1.0
    trend = rng.uniform(-0.03, 0.08, len(categories))[cat] + rng.normal(0, 0.01, n)
    return amp, peak, trend


def _style_texts(
    rng: np.random.Generator, color: np.ndarray, pattern: np.ndarray, scent: np.ndarray,
    secondary: np.ndarray,
) -> list[str]:
    """Short free-text style descriptions built from the colour, pattern and scent words."""
    templates = (
        "{c} {p} {s} with {sc}",
        "{s} in {c}, {p} pattern, {sc}",
        "{sc}; {c} {p} pack",
        "{p} {c} design - {sc}",
    )
    choice = rng.integers(0, len(templates), len(color))
    out = []
    for t, ci, pi, si, sec in zip(choice, color, pattern, scent, secondary, strict=True):
        scent_phrase = "no added scent" if SCENTS[si] == "unscented" else f"{SCENTS[si]} scent"
        text = templates[t].format(c=COLORS[ci], p=PATTERNS[pi], s=sec.lower(), sc=scent_phrase)
        out.append(text[0].upper() + text[1:])
    return out


def _extra_attributes(
    rng: np.random.Generator, cat: np.ndarray, categories: list[str], pack: np.ndarray,
    spec: WorldSpec, launch: np.ndarray,
) -> dict[str, np.ndarray | list]:
    """Further attributes (15 in all, as in the paper), with the launch date of each SKU."""
    n = len(cat)
    weight = np.array([CATEGORY_WEIGHT_G[c] for c in categories])[cat]
    old_year = rng.integers(spec.start.year - 12, spec.start.year, n)
    launched = [spec.month_at(i) if i >= 0 else date(int(y), int(m), 1)
                for i, y, m in zip(launch, old_year, rng.integers(1, 13, n), strict=True)]
    return {
        "net_weight_g": np.round(weight * pack * np.exp(rng.normal(0, 0.25, n)), 0),
        "packaging": [PACKAGING[i] for i in rng.integers(0, len(PACKAGING), n)],
        "shelf_life_months": rng.choice(np.array([12, 18, 24, 36]), n).astype(np.int64),
        "launch_month": launched,
    }
