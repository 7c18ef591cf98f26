"""Render docs/data-contract.md from deeprule/schema.py, so the doc cannot drift.

`python -m deeprule.io.contract_doc > docs/data-contract.md`
"""

from __future__ import annotations

from deeprule.schema import RAW_TABLES, Column, TableSchema

INTRO = """# Data contract: bring your own data

Set `DEEPRULE_DATA_DIR` to a folder of files and every raw asset reads that
folder instead of generating the synthetic world. One file per table,
`<table>.parquet` or `<table>.csv` (UTF-8, header row, `,` separator); the
partitioned tables (`shipments`, `expenses`) may instead be a folder
`shipments/` (`expenses/`) holding several such files (for example one per
month). Each monthly partition takes the rows whose `month` falls in that
month. A table marked optional may be left out: it is then empty.

Validation, per row: values that do not parse as the column's type, missing
required values, values outside the range or set below, and repeated keys are
written to the DuckDB table `quarantine` (table, partition, file, 1-based data
row, column, reason, the raw record as JSON) and logged as
`<file> row <n> column <c>: <reason>`. The valid rows go on; the table's
`nothing_quarantined` asset check warns. With `strict: true` on the `world`
resource the run fails instead (after quarantining). A missing column or an
unreadable file stops the asset with an error naming the file and column.
Rows whose `month` cannot be parsed belong to no partition: they are
quarantined under partition `__unassigned__`. Re-running a partition replaces
its quarantine rows, so reruns never duplicate them.

Asset checks on every raw table: `unique_keys`, `values_in_range`,
`nothing_quarantined`; references: `shipments.customer_id`, `shipments.sku_id`,
`expenses.customer_id` and `raw_documents.customer_id` must exist in their
parent tables.

The synthetic world's hidden truth (`simulator` group) has no counterpart in
user data: those tables stay empty, and evaluation against truth is skipped.
"""


def _range(col: Column) -> str:
    parts = []
    if col.min_value is not None:
        parts.append(f"≥ {col.min_value:g}")
    if col.max_value is not None:
        parts.append(f"≤ {col.max_value:g}")
    if col.allowed:
        parts.append("one of " + ", ".join(f"`{v}`" for v in col.allowed))
    if col.nullable:
        parts.append("may be empty")
    return "; ".join(parts) or "required"


def _type_name(col: Column) -> str:
    dtype = col.dtype if not isinstance(col.dtype, type) else col.dtype()
    return {"String": "text", "Float64": "number", "Int64": "integer",
            "Date": "date (YYYY-MM-DD)"}.get(str(dtype), str(dtype))


def table_section(schema: TableSchema) -> str:
    lines = [f"## `{schema.name}`", "", schema.description, "",
             f"Key: {', '.join(f'`{k}`' for k in schema.key)} (unique)."]
    if schema.partition_column:
        lines.append(f"Partitioned monthly by `{schema.partition_column}`.")
    if not schema.required:
        lines.append("Optional: a folder without this table gives an empty one.")
    for label, text in schema.metadata.items():
        lines.append(f"Also allowed — {label}: {text}.")
    lines += ["", "| column | type | allowed values | meaning |", "|---|---|---|---|"]
    lines += [
        f"| `{c.name}` | {_type_name(c)} | {_range(c)} | {c.description} |" for c in schema.columns
    ]
    return "\n".join(lines)


def render() -> str:
    sections = [table_section(schema) for schema in RAW_TABLES.values()]
    return INTRO + "\n" + "\n\n".join(sections) + "\n"


if __name__ == "__main__":
    print(render(), end="")
