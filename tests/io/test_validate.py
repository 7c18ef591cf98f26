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


SHIPMENT_HEADER = "customer_id,sku_id,month,list_price,discount,unit_price,units,revenue"


def test_broken_references_and_arithmetic_are_quarantined_with_the_reason(
    tmp_path: Path,
) -> None:
    _write(tmp_path, "shipments.csv", [
        SHIPMENT_HEADER,
        "C1,S1,2021-05-01,10.0,0.2,8.0,5,40.0",      # good
        "C9,S1,2021-05-01,10.0,0.2,8.0,5,40.0",      # customer in no customer file
        "C1,S7,2021-05-01,10.0,0.2,8.0,5,40.0",      # unknown SKU
        "C1,S2,2021-05-01,10.0,0.2,8.0,5,400.0",     # revenue ten times units x unit_price
        "C2,S1,2021-05-01,10.0,0.2,6.0,5,30.0",      # unit_price is not list x (1 - discount)
        "C2,S2,2021-05-01,10.0,0.1,9.004,3,27.012",  # rounding inside the tolerance: kept
        "C2,S3,2021-05-15,10.0,0.0,10.0,1,10.0",     # not the first day of a month
    ])
    parents = {"customers": pl.Series(["C1", "C2"]), "skus": pl.Series(["S1", "S2", "S3"])}
    result = validate_table(read_table(tmp_path, SHIPMENTS), SHIPMENTS, parents)

    reasons = {(r["source_row"], r["column_name"]): r["reason"]
               for r in result.quarantine.iter_rows(named=True)}
    assert reasons == {
        (2, "customer_id"): "value 'C9' is not a customers.customer_id",
        (3, "sku_id"): "value 'S7' is not a skus.sku_id",
        (4, "revenue"): "value 400.0 is not units * unit_price = 40 (tolerance 0.01 + 1%)",
        (5, "unit_price"): "value 6.0 is not list_price * (1 - discount) = 8 "
                           "(tolerance 0.01 + 1%)",
        (7, "month"): "value '2021-05-15' is not the first day of a month",
    }
    assert result.valid.select("customer_id", "sku_id").rows() == [("C1", "S1"), ("C2", "S2")]


def test_a_month_is_what_the_rows_say_and_off_calendar_rows_belong_to_none() -> None:
    from datetime import date

    from deeprule.io.sources import months_in

    df = pl.DataFrame({"month": ["2019-07-01", "2031-02-01", "2019-07-01", "2020-01-09", "x"]})
    assert months_in(df, "month") == [date(2019, 7, 1), date(2031, 2, 1)]
    rows, unassigned = split_by_month(df, "month", date(2019, 7, 1))
    assert rows.height == 2 and unassigned["month"].to_list() == ["2020-01-09", "x"]
