"""Model-free assortment pricing from transaction data (the paper's `model-free` baseline).

Reference: N. Chen, A. A. Cire, M. Hu, S. Lagzi, "Model-free assortment pricing with
transaction data", Management Science, 2023 (the paper's key `model-free`). No demand
model: transaction i (customer bought c at price P_c while j was offered at P_j)
only says its valuations lie in the incentive-compatible polyhedron

    V_i = {v ≥ 0 : v_c − P_c ≥ max_{j≠c} (v_j − P_j), v_c − P_c ≥ 0},

and prices p maximize the worst case over V_i of what each transaction would pay
(the OP-MIP: a MILP over a price grid).

Worst case of one transaction, in closed form (an adversary choosing v in V_i; ties
go against the seller): if p_c > P_c it can put v_c = P_c and the customer walks (0);
otherwise the customer still buys, but it can move the choice to any j whose
discount P_j − p_j is at least c's, so the seller gets the least margin among c and
those j. The MILP per secondary category (transactions couple only SKUs offered
together): y_{j,g} picks one grid price per SKU; w_i ≤ the margin of c's price if
it is at most P_c (else 0); for each alternative j and price pair (g, h) that
allows the switch, w_i ≤ m_{j,h} + (M_c − m_{j,h})(2 − y_{c,g} − y_{j,h}); maximize
Σ units_i · w_i with HiGHS (scipy.optimize.milp).

Here a transaction is a shipped line of the history (weight: its units); its offers
are the other SKUs of the same secondary category the customer ever bought (at
their price that month, else the customer's mean price), at most
`max_alternatives` of them; each SKU's grid is quantiles of the prices at which it
was chosen (the robust optimum sits on such a price), held to [cost, list]; one
price per SKU for every customer. Simplified against the paper: transactions are
sampled to `max_transactions` per category, and the plan's expected units of a
pair are its historical monthly units times the share of its transactions the
robust price retains (switches between SKUs are not moved in the forecast). A
pair never bought has no transaction, so no forecast: model-free pricing does not
recommend new SKUs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_array

from deeprule.baselines.common import PlanMonth, Pricing, margin_of, pair_history, sku_index


@dataclass(frozen=True)
class ModelFreeSettings:
    """OP-MIP over a grid of observed prices; sizes bounded so each category solves fast."""

    grid_points: int = 6
    """Candidate prices per SKU: quantiles of the prices it was chosen at."""
    max_alternatives: int = 3
    """Offers per transaction besides the chosen SKU (the customer's most bought)."""
    max_transactions: int = 400
    """Transactions per secondary category (a seeded sample beyond this)."""
    time_limit_s: float = 20.0
    objective: str = "profit"
    seed: int = 0


@dataclass(frozen=True)
class Transactions:
    """One row per transaction: chosen SKU, price paid, units; offers as (transaction,
    SKU, price) triples. SKU codes are local to the problem (0..n_skus-1)."""

    chosen: np.ndarray
    paid: np.ndarray
    units: np.ndarray
    offer_of: np.ndarray
    offer_sku: np.ndarray
    offer_price: np.ndarray


@dataclass(frozen=True)
class RobustPrices:
    """Chosen grid price per SKU, the worst-case objective and the solver's status."""

    price: np.ndarray
    objective: float
    status: str


def worst_case(price: np.ndarray, margin: np.ndarray, deals: Transactions) -> np.ndarray:
    """Worst-case margin of each transaction under `price` (closed form, module docstring);
    `margin` is what one unit earns per SKU at `price`."""
    retained = price[deals.chosen] <= deals.paid + 1e-9
    out = np.where(retained, margin[deals.chosen], 0.0)
    discount_c = deals.paid - price[deals.chosen]
    switch = ((deals.offer_price - price[deals.offer_sku] >= discount_c[deals.offer_of] - 1e-9)
              & retained[deals.offer_of])
    np.minimum.at(out, deals.offer_of[switch], margin[deals.offer_sku[switch]])
    return out


def robust_prices(grid: list[np.ndarray], cost: np.ndarray, deals: Transactions,
                  objective: str, time_limit_s: float) -> RobustPrices:
    """The OP-MIP: one grid price per SKU maximizing Σ units · worst-case margin."""
    n_sku = len(grid)
    var_of = np.cumsum([0] + [len(g) for g in grid])
    n_y, n_tx = int(var_of[-1]), len(deals.chosen)
    margin = [margin_of(g, cost[j], objective) for j, g in enumerate(grid)]
    top = np.array([m.max() for m in margin])
    rows, cols, vals, upper = [], [], [], []

    def add(cells: list[tuple[int, float]], bound: float) -> None:
        for col, val in cells:
            rows.append(len(upper))
            cols.append(col)
            vals.append(val)
        upper.append(bound)

    for i in range(n_tx):
        c, w = int(deals.chosen[i]), n_y + i
        keep = grid[c] <= deals.paid[i] + 1e-9
        add([(w, 1.0)] + [(int(var_of[c]) + g, -float(margin[c][g]))
                          for g in np.flatnonzero(keep)], 0.0)
        for k in np.flatnonzero(deals.offer_of == i):
            j, offered = int(deals.offer_sku[k]), float(deals.offer_price[k])
            for g in np.flatnonzero(keep):
                allowed = grid[j] <= offered - deals.paid[i] + grid[c][g] + 1e-9
                for h in np.flatnonzero(allowed & (margin[j] < margin[c][g])):
                    slack = float(top[c] - margin[j][h])
                    add([(w, 1.0), (int(var_of[c]) + g, slack), (int(var_of[j]) + h, slack)],
                        float(margin[j][h]) + 2 * slack)
    pick = [(j, int(var_of[j]) + g) for j in range(n_sku) for g in range(len(grid[j]))]
    one = coo_array((np.ones(len(pick)), ([j for j, _ in pick], [v for _, v in pick])),
                    shape=(n_sku, n_y + n_tx))
    constraints = [LinearConstraint(one, 1.0, 1.0)]
    if upper:
        matrix = coo_array((vals, (rows, cols)), shape=(len(upper), n_y + n_tx))
        constraints.append(LinearConstraint(matrix, -np.inf, np.array(upper)))
    cost_vector = np.r_[np.zeros(n_y), -deals.units]
    bounds = Bounds(np.zeros(n_y + n_tx), np.r_[np.ones(n_y), top[deals.chosen]])
    result = milp(cost_vector, integrality=np.r_[np.ones(n_y), np.zeros(n_tx)], bounds=bounds,
                  constraints=constraints, options={"time_limit": time_limit_s})
    if result.x is None:
        return RobustPrices(np.array([g.max() for g in grid]), 0.0, result.message)
    price = np.array([grid[j][int(np.argmax(result.x[var_of[j]:var_of[j + 1]]))]
                      for j in range(n_sku)])
    return RobustPrices(price, -float(result.fun), "optimal" if result.status == 0
                        else result.message)


def transactions(month: PlanMonth, settings: ModelFreeSettings
                 ) -> dict[str, tuple[np.ndarray, Transactions]]:
    """Per secondary category: (its SKU codes in `sku_index(month)`, its transactions)."""
    skus, _ = sku_index(month)
    code = dict(zip(skus, range(len(skus)), strict=True))
    ship = (month.history.filter((pl.col("units") > 0) & pl.col("sku_id").is_in(skus))
            .join(month.skus.select("sku_id", "secondary_category"), on="sku_id", how="left"))
    usual = ship.group_by("customer_id", "sku_id").agg(
        usual=pl.col("revenue").sum() / pl.col("units").sum(), bought=pl.col("units").sum())
    rng = np.random.default_rng(settings.seed)
    out = {}
    for (category,), lines in ship.sort("customer_id", "month", "sku_id").group_by(
            "secondary_category", maintain_order=True):
        members = sorted(lines["sku_id"].unique().to_list())
        local = {s: n for n, s in enumerate(members)}
        if lines.height > settings.max_transactions:
            lines = lines[np.sort(rng.choice(lines.height, settings.max_transactions,
                                             replace=False))]
        offers = _offers(lines, usual, settings.max_alternatives)
        out[category] = (np.array([code[s] for s in members]), Transactions(
            chosen=np.array([local[s] for s in lines["sku_id"]]),
            paid=lines["unit_price"].to_numpy(), units=lines["units"].cast(pl.Float64).to_numpy(),
            offer_of=offers["tx"].to_numpy(),
            offer_sku=np.array([local[s] for s in offers["sku_id"]], dtype=np.int64),
            offer_price=offers["price"].to_numpy()))
    return out


def _offers(lines: pl.DataFrame, usual: pl.DataFrame, limit: int) -> pl.DataFrame:
    """tx, sku_id, price: per transaction the customer's other SKUs of the category (its
    most bought first), at that month's price if shipped, else its usual price."""
    members = lines["sku_id"].unique().to_list()
    mine = usual.filter(pl.col("sku_id").is_in(members))
    same_month = lines.select("customer_id", "month", "sku_id", month_price="unit_price")
    return (lines.with_row_index("tx").select("tx", "customer_id", "month", chosen="sku_id")
            .join(mine, on="customer_id").filter(pl.col("sku_id") != pl.col("chosen"))
            .join(same_month, on=["customer_id", "month", "sku_id"], how="left")
            .sort(["tx", "bought"], descending=[False, True])
            .group_by("tx", maintain_order=True).head(limit)
            .select(pl.col("tx").cast(pl.Int64), "sku_id",
                    price=pl.coalesce("month_price", "usual")))


def price_grid(paid: np.ndarray, cost: float, list_price: float, points: int) -> np.ndarray:
    """Quantiles of the prices a SKU was chosen at, held to [cost, list], distinct."""
    grid = np.quantile(paid, np.linspace(0, 1, points)) if len(paid) else np.array([list_price])
    return np.unique(np.clip(grid, cost, list_price))


def model_free_pricing(month: PlanMonth, settings: ModelFreeSettings | None = None
                       ) -> Pricing:
    """Robust prices per secondary category from the history; units by retained share."""
    settings = settings or ModelFreeSettings()
    skus, sku = sku_index(month)
    first = np.unique(sku, return_index=True)[1]
    list_price, cost = month.list_price[first], month.cost[first]
    price, statuses, worst = list_price.copy(), [], 0.0
    for codes, deals in transactions(month, settings).values():
        grid = [price_grid(deals.paid[deals.chosen == n], cost[c], list_price[c],
                           settings.grid_points) for n, c in enumerate(codes)]
        found = robust_prices(grid, cost[codes], deals, settings.objective,
                              settings.time_limit_s)
        price[codes] = found.price
        statuses.append(found.status)
        worst += found.objective
    kept = _retained_share(month, skus, price)
    units = pair_history(month)["hist_units"].to_numpy() * kept
    return Pricing(price[sku], units, units > 0, {
        "categories": len(statuses), "not_optimal": sum(s != "optimal" for s in statuses),
        "worst_case_objective": worst})


def _retained_share(month: PlanMonth, skus: list[str], price: np.ndarray) -> np.ndarray:
    """Per candidate row: share of the pair's historical units bought at a price at least
    the robust one (the transactions whose valuations surely still buy)."""
    robust = pl.DataFrame({"sku_id": skus, "robust": price})
    share = (month.history.filter(pl.col("units") > 0).join(robust, on="sku_id")
             .group_by("customer_id", "sku_id").agg(
                 kept=pl.col("units").filter(pl.col("unit_price") >= pl.col("robust") - 1e-9)
                 .sum() / pl.col("units").sum()))
    return (month.rows.select("customer_id", "sku_id")
            .join(share, on=["customer_id", "sku_id"], how="left", maintain_order="left")
            ["kept"].fill_null(0.0).to_numpy())
