"""Bad raw files: clear errors naming file, column and row; nothing silently dropped."""

from pathlib import Path

import polars as pl
import pytest

from deeprule.io.sources import read_table, split_by_month
from deeprule.io.validate import DataContractError, validate_table
from deeprule.schema import CUSTOMERS, SHIPMENTS

HEADER = (
    "customer_id,name,latitude,longitude,city,region,customer_type,business_scale,"
    "years_active,credit_limit,attr_01"
)
GOOD = "C1,Acme,31.2,121.4,Shanghai,East,wholesale,120.5,4,50000,0.3"


def _write(folder: Path, name: str, lines: list[str]) -> Path:
    path = folder / name
    path.write_text("\n".join(lines) + "\n")
    return path


def test_corrupted_csv_rows_are_quarantined_with_file_row_column(tmp_path: Path) -> None:
    _write(tmp_path, "customers.csv", [
        HEADER,
        GOOD,
        "C2,Beta,123.4,121.4,Shanghai,East,wholesale,80,2,1000,0.1",   # latitude out of range
        "C3,Gamma,30.0,120.0,Hangzhou,East,retail,lots,2,1000,0.2",    # not a number
        "C1,Dup,30.0,120.0,Hangzhou,East,retail,10,2,1000,0.2",        # duplicate key
        "C4,Delta,30.0,120.0,Hangzhou,East,retail,-5,2,1000,0.2",      # negative scale
        "C5,,30.0,120.0,Hangzhou,East,retail,5,2,1000,0.2",            # missing name
    ])
    result = validate_table(read_table(tmp_path, CUSTOMERS), CUSTOMERS)

    assert result.valid["customer_id"].to_list() == ["C1"]
    problems = {
        (r["source_row"], r["column_name"]): r["reason"]
        for r in result.quarantine.iter_rows(named=True)
    }
    assert set(problems) == {
        (2, "latitude"), (3, "business_scale"), (4, "customer_id"), (5, "business_scale"),
        (6, "name"),
    }
    assert "123.4" in problems[(2, "latitude")] and "maximum 90" in problems[(2, "latitude")]
    assert "'lots'" in problems[(3, "business_scale")]
    assert "duplicate key C1" in problems[(4, "customer_id")]
    assert "first seen at row 1" in problems[(4, "customer_id")]
    messages = result.messages()
    assert messages[0].startswith("customers.csv row 2 column latitude:")
    # the raw record travels with the reason, so nothing is lost
    assert all('"customer_id"' in r for r in result.quarantine["raw_record"])
    # every input row is either valid or quarantined
    assert result.valid.height + result.quarantine["source_row"].n_unique() == 6


def test_extra_numeric_attributes_become_floats(tmp_path: Path) -> None:
    _write(tmp_path, "customers.csv", [HEADER, GOOD])
    result = validate_table(read_table(tmp_path, CUSTOMERS), CUSTOMERS)
    assert result.valid.schema["attr_01"] == pl.Float64
    assert result.valid.schema["latitude"] == pl.Float64


def test_missing_column_names_file_and_column(tmp_path: Path) -> None:
    _write(tmp_path, "customers.csv", [HEADER.replace(",latitude", ""), GOOD.replace(",31.2", "")])
    with pytest.raises(DataContractError, match=r"customers\.csv.*\['latitude'\]"):
        validate_table(read_table(tmp_path, CUSTOMERS), CUSTOMERS)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DataContractError, match="no file for table 'customers'"):
        read_table(tmp_path, CUSTOMERS)


def test_shipments_split_by_month_keeps_unparseable_months(tmp_path: Path) -> None:
    from datetime import date

    header = "customer_id,sku_id,month,list_price,discount,unit_price,units,revenue"
    folder = tmp_path / "shipments"
    folder.mkdir()
    _write(folder, "2024-01.csv", [header, "C1,S1,2024-01-01,10,0.1,9,5,45",
                                   "C1,S2,soon,10,0.1,9,5,45"])
    _write(folder, "2024-02.csv", [header, "C1,S1,2024-02-01,10,0.1,9,5,45"])
    frame = read_table(tmp_path, SHIPMENTS)
    jan, unparseable = split_by_month(frame, "month", date(2024, 1, 1))
    assert jan["sku_id"].to_list() == ["S1"] and jan["_source_file"][0] == "2024-01.csv"
    assert unparseable["_source_row"].to_list() == [2]
    checked = validate_table(unparseable, SHIPMENTS)
    assert checked.valid.is_empty()
    assert checked.quarantine["column_name"].to_list() == ["month"]
