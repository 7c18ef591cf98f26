"""Monthly partitions: the months the data holds, added as new months arrive.

Dynamic partitions rather than a `MonthlyPartitionsDefinition`: the calendar is
the data's own (the generated world's months, or every month found in the
user's shipment files), which is only known by reading the data, not at import
time. An open-ended time window would list every month up to today, empty ones
included, and could not start before a fixed date. The keys are registered by the
`data_inbox` sensor and by `python -m pipelines.cli run` (both through
`missing_month_keys`), so the partitions and the `world` resource cannot disagree.
"""

from collections.abc import Iterable
from datetime import date

import dagster as dg

MONTHS = "months"
monthly_partitions = dg.DynamicPartitionsDefinition(name=MONTHS)


def month_key(month: date) -> str:
    """The partition key of a month: its first day, ISO formatted (e.g. 2024-03-01)."""
    return month.replace(day=1).isoformat()


def key_month(key: str) -> date:
    """The month a partition key names, or an error saying what a key must look like."""
    try:
        month = date.fromisoformat(key)
    except ValueError as err:
        raise ValueError(f"partition key {key!r} is not a date like 2024-03-01") from err
    if month.day != 1:
        raise ValueError(f"partition key {key!r} is not the first day of a month")
    return month


def missing_month_keys(registered: Iterable[str], months: Iterable[date]) -> list[str]:
    """Keys of the data's months that are not partitions yet, in calendar order."""
    known = set(registered)
    return sorted({month_key(m) for m in months} - known)


def registered_months(instance: dg.DagsterInstance) -> list[str]:
    """The month keys already registered on this instance, in calendar order."""
    return sorted(instance.get_dynamic_partitions(MONTHS))
