"""What a customer's history before the plan month says (Appendix E, cost and fee-ratio stage).

- A_c: the mean monthly purchase value Σ revenue over the history months before the
  plan month (every month of the shipments before it counts, bought or not); NaN for a
  customer with no purchase: no history, no plan;
- h_{c,k1}: the category's share of the customer's gross revenue GR;
- FR_{c,k1}: fee ratios from the expenses table, eq. (23) as printed:
  FR_{c,k1,f} = h_{c,k1} · TotalExpense_{c,f} / GR_{c,k1} and FR_{c,k1} = Σ_f h_{c,k1} ·
  FR_{c,k1,f}; with GR_{c,k1} = h·GR_c this is h_{c,k1} · TotalExpense_c / GR_c (a
  category's fee ratio grows with its share). No expenses table: every FR is 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl


@dataclass(frozen=True)
class AccountHistory:
    """Per customer (order of `customers`) x primary category (order of `categories`)."""

    customers: list[str]
    categories: list[str]
    mean_value: np.ndarray
    share: np.ndarray
    fee_ratio: np.ndarray
    months: int


def account_history(shipments: pl.DataFrame, skus: pl.DataFrame, expenses: pl.DataFrame | None,
                    customers: list[str], categories: list[str], month: date) -> AccountHistory:
    """A_c, h_{c,k1} and FR_{c,k1} from the months strictly before `month`."""
    before = shipments.filter(pl.col("month") < month)
    n_months = before["month"].n_unique()
    if n_months == 0:
        raise ValueError(f"no shipments before the plan month {month.isoformat()}")
    gr = (before.join(skus.select("sku_id", "primary_category"), on="sku_id", how="left")
          .group_by("customer_id", "primary_category").agg(pl.col("revenue").sum()))
    revenue = np.zeros((len(customers), len(categories)))
    c = _index(gr["customer_id"], customers)
    k = _index(gr["primary_category"], categories)
    known = (c >= 0) & (k >= 0)
    np.add.at(revenue, (c[known], k[known]), gr["revenue"].to_numpy()[known])
    total = revenue.sum(axis=1)
    share = np.divide(revenue, total[:, None], out=np.zeros_like(revenue),
                      where=total[:, None] > 0)
    spent = _total_expense(expenses, customers, month)
    fee = share * np.divide(spent, total, out=np.zeros_like(total), where=total > 0)[:, None]
    mean = np.where(total > 0, total / n_months, np.nan)
    return AccountHistory(customers, categories, mean, share, fee, n_months)


def _total_expense(expenses: pl.DataFrame | None, customers: list[str], month: date
                   ) -> np.ndarray:
    """Σ over expense types and months before `month`, per customer."""
    out = np.zeros(len(customers))
    if expenses is None or expenses.is_empty():
        return out
    per = expenses.filter(pl.col("month") < month).group_by("customer_id").agg(
        pl.col("amount").sum())
    c = _index(per["customer_id"], customers)
    np.add.at(out, c[c >= 0], per["amount"].to_numpy()[c >= 0])
    return out


def _index(values: pl.Series, levels: list[str]) -> np.ndarray:
    """Position of each value in `levels` (-1 if absent)."""
    return values.replace_strict(levels, list(range(len(levels))), default=-1,
                                 return_dtype=pl.Int64).to_numpy()
