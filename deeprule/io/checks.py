"""SQL for the raw tables' data-quality checks, derived from the contract."""

from __future__ import annotations

from deeprule.schema import TableSchema


def duplicate_key_sql(schema: TableSchema) -> str:
    """Number of rows beyond the first for each key value (0 when keys are unique)."""
    key = ", ".join(schema.key)
    return f"SELECT count(*) - count(DISTINCT ({key})) FROM {schema.name}"


def out_of_range_sql(schema: TableSchema) -> str:
    """Rows with a null required value or a value outside the contract's range or set."""
    conditions = []
    for col in schema.columns:
        if not col.nullable:
            conditions.append(f"{col.name} IS NULL")
        if col.min_value is not None:
            conditions.append(f"{col.name} < {col.min_value}")
        if col.max_value is not None:
            conditions.append(f"{col.name} > {col.max_value}")
        if col.allowed is not None:
            values = ", ".join(f"'{v}'" for v in col.allowed)
            conditions.append(f"{col.name} NOT IN ({values})")
    where = " OR ".join(conditions) or "FALSE"
    return f"SELECT count(*) FROM {schema.name} WHERE {where}"


def orphan_sql(child: str, column: str, parent: str, parent_column: str) -> str:
    """Rows of `child` whose `column` has no match in `parent` (a dangling reference)."""
    return (
        f"SELECT count(*) FROM {child} c ANTI JOIN {parent} p "
        f"ON c.{column} = p.{parent_column}"
    )
