"""Read the user's own raw files (bring your own data) as contract tables.

A folder holds one file per table: `<table>.parquet` or `<table>.csv`;
`shipments` may also be a folder `shipments/` of such files (e.g. one per month).
CSV is read as text so that a malformed value is reported, not guessed.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

from deeprule.io.validate import DataContractError, attach_source
from deeprule.schema import TableSchema

SUFFIXES = (".parquet", ".csv")


def table_files(folder: Path, schema: TableSchema) -> list[Path]:
    """The files that hold `schema`'s table in `folder`, or a clear error if none do."""
    if not folder.is_dir():
        raise DataContractError(f"data folder {folder} does not exist or is not a folder")
    files = [folder / f"{schema.name}{s}" for s in SUFFIXES]
    files = [p for p in files if p.is_file()]
    subdir = folder / schema.name
    if subdir.is_dir():
        files += sorted(p for p in subdir.iterdir() if p.suffix in SUFFIXES)
    if not files:
        raise DataContractError(
            f"{folder}: no file for table {schema.name!r}; expected {schema.name}.parquet, "
            f"{schema.name}.csv or a folder {schema.name}/ of such files"
        )
    return files


def _present(folder: Path, schema: TableSchema) -> bool:
    return any((folder / f"{schema.name}{s}").is_file() for s in SUFFIXES) or (
        (folder / schema.name).is_dir())


def read_file(path: Path) -> pl.DataFrame:
    """One raw file, CSV as all-text, tagged with its file name and data row numbers."""
    try:
        if path.suffix == ".csv":
            df = pl.read_csv(path, infer_schema=False, null_values=[""])
        else:
            df = pl.read_parquet(path)
    except Exception as err:  # noqa: BLE001 - any reader failure is a contract error
        raise DataContractError(f"{path}: cannot be read as {path.suffix[1:]}: {err}") from err
    return attach_source(df, path.name)


def read_table(folder: Path, schema: TableSchema) -> pl.DataFrame:
    """All files of a table stacked; columns missing in one file surface in validation.

    An optional table with no file is empty (every contract column, no rows).
    """
    if not schema.required and folder.is_dir() and not _present(folder, schema):
        return attach_source(pl.DataFrame(schema=schema.polars_schema()), "(absent)")
    frames = [read_file(p) for p in table_files(folder, schema)]
    return pl.concat(frames, how="diagonal_relaxed")


def split_by_month(df: pl.DataFrame, column: str, month: date) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(rows of `month`, rows whose month cannot be parsed at all).

    Rows of other months are simply another partition's; rows with an unreadable
    month belong to no partition and must be quarantined, not dropped.
    """
    text = df[column].cast(pl.String)
    parsed = text.str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False)
    in_month = parsed.dt.truncate("1mo") == month
    return df.filter(in_month.fill_null(False)), df.filter(parsed.is_null())
