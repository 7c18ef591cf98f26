"""Which rule DeepRule deploys: the one home of the criterion, shared by the product's plans
(`assortment_plans`) and the evaluation (deeprule/evaluate/compare.py, `method_comparison`).

Among candidate rules (the expert rule first, then each search's best), the one whose plan
the demand model predicts to earn the most in the plan month. Not the best fitness:
fitness is scored on the searched months, and a rule ahead there by a hair can plan the
plan month worse, so each added search could lower the deployed plan (docs/baselines.md,
"Which rule is deployed"). The truth is never read.
"""

import polars as pl


def deployed(column: str) -> pl.Expr:
    """`column` of the deployed rule, over rows that are each candidate rule's plan by one
    optimizer, with its `predicted_profit` (the expert rule's row first: a tie keeps the
    earlier row, so a search must beat the expert rule, not match it)."""
    return first_by(column, "predicted_profit")


def first_by(column: str, key: str) -> pl.Expr:
    """`column` of the row with the highest `key` (nulls last; a tie keeps the earlier row)."""
    return pl.col(column).sort_by(key, descending=True, nulls_last=True,
                                  maintain_order=True).first()
