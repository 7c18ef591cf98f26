"""What changed in a folder of raw files: content digests, the tables and months they hold.

The data inbox sensor and the daily rebuild compare these digests with what they saw
(a cursor) or with what the last materialization recorded, so a file is acted on once
per content, and a month is stale exactly when a file holding it changed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import date
from pathlib import Path

from deeprule.io.sources import SUFFIXES, months_in, read_file
from deeprule.schema import RAW_TABLES, TableSchema

Digests = Mapping[str, str]
"""Relative file path -> sha256 of its bytes."""


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes (content, not modification time: a touch is no change)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def table_of(relative: str) -> str | None:
    """The raw table a file feeds: `customers.csv` or `shipments/2024-03.parquet`."""
    path = Path(relative)
    if path.suffix not in SUFFIXES:
        return None
    name = path.parts[0] if len(path.parts) > 1 else path.stem
    return name if name in RAW_TABLES else None


def folder_digests(folder: Path) -> dict[str, str]:
    """Digest of every raw table file in `folder` (top level and one folder per table)."""
    files = [p for p in folder.glob("*") if p.is_file()]
    files += [p for name in RAW_TABLES for p in (folder / name).glob("*") if p.is_file()]
    return {
        str(p.relative_to(folder)): file_digest(p)
        for p in sorted(files) if table_of(str(p.relative_to(folder)))
    }


def changed_files(seen: Digests, current: Digests) -> list[str]:
    """Files that are new or whose content differs from what was seen, sorted."""
    return sorted(path for path, digest in current.items() if seen.get(path) != digest)


def changed_tables(seen: Digests, current: Digests) -> dict[str, list[str]]:
    """The changed files grouped by the table they feed."""
    tables: dict[str, list[str]] = {}
    for path in changed_files(seen, current):
        tables.setdefault(str(table_of(path)), []).append(path)
    return tables


def file_months(folder: Path, relative: str, schema: TableSchema) -> list[date]:
    """The months the rows of one partitioned-table file belong to."""
    if schema.partition_column is None:
        raise ValueError(f"table {schema.name!r} is not partitioned by month")
    return months_in(read_file(folder / relative), schema.partition_column)


def month_fingerprints(folder: Path, schema: TableSchema, digests: Digests) -> dict[date, str]:
    """For each month, a digest of the files holding its rows: it changes iff one of them does."""
    holders: dict[date, list[str]] = {}
    for relative in sorted(p for p in digests if table_of(p) == schema.name):
        for month in file_months(folder, relative, schema):
            holders.setdefault(month, []).append(f"{relative}:{digests[relative]}")
    return {m: hashlib.sha256("\n".join(files).encode()).hexdigest()
            for m, files in sorted(holders.items())}


def stale_keys(current: Mapping[str, str], recorded: Mapping[str, str | None]) -> list[str]:
    """Keys never materialized, or whose source fingerprint moved since the last one."""
    return sorted(key for key, print_ in current.items() if recorded.get(key) != print_)
