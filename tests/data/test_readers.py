"""Files as users export them: Excel workbooks, Excel's "Unicode text" (UTF-16), a tab-separated
file named .csv, and a training file with one label."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from slimnlp.config import DataConfig
from slimnlp.data import DataError, prepare_data_files, read_split
from slimnlp.data.readers import read_table

ROWS = [("नमस्कार, जग", "-1"), ("दुसरे वाक्य", "0"), ("NA", "1"), ("0012", "1")]


def frame(rows=ROWS) -> pd.DataFrame:
    return pd.DataFrame({"sentence": [t for t, _ in rows], "label": [label for _, label in rows]})


def test_excel_workbook_with_a_header_row_and_an_unnamed_index_column(tmp_path: Path) -> None:
    path = tmp_path / "MahaSent.xlsx"
    with pd.ExcelWriter(path) as book:
        frame().to_excel(book, sheet_name="notes", index=True)  # the index column has no header
        frame(ROWS[:2]).to_excel(book, sheet_name="second", index=True)
    table = read_table(path, "xlsx", "sentence", "label")  # the first sheet
    assert list(zip(table["text"], table["label"], strict=True)) == ROWS  # "0012" and "NA" as written
    assert list(read_table(path, "xlsx", "sentence", "label", sheet="second")["text"]) == [
        "नमस्कार, जग",
        "दुसरे वाक्य",
    ]
    with pytest.raises(
        DataError, match=r"no sheet 'Sheet1' \(data.sheet\); the workbook's sheets are \['notes', 'second'\]"
    ):
        read_table(path, "xlsx", "sentence", "label", sheet="Sheet1")
    with pytest.raises(DataError) as err:
        read_table(path, "xlsx", "text", "label", source="s3://b/MahaSent.xlsx")
    assert str(err.value).startswith(
        "s3://b/MahaSent.xlsx (sheet 'notes'): no column 'text' (data.text_column)"
    )
    assert "['Unnamed: 0', 'sentence', 'label']" in str(err.value)


def test_excel_through_prepare_data(tmp_path: Path) -> None:
    rows = [(f"वाक्य {label} {i}", label) for label in ("a", "b") for i in range(10)]
    frame(rows).to_excel(tmp_path / "data.xlsx", index=True)
    report = prepare_data_files(
        DataConfig(train_file=str(tmp_path / "data.xlsx"), text_column="sentence"),
        tmp_path / "out",
        progress=False,
    )
    assert report["files"]["train"]["format"] == "xlsx" and report["rows_read"] == 20


def test_utf16_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    """Excel's "Unicode text" export: UTF-16 LE with a BOM, tab-separated (was: "not valid UTF-8")."""
    path = tmp_path / "export.txt"
    path.write_bytes(frame().to_csv(sep="\t", index=False).encode("utf-16"))
    assert path.read_bytes()[:2] == b"\xff\xfe"
    table = read_table(path, "tsv", "sentence", "label")
    assert list(zip(table["text"], table["label"], strict=True)) == ROWS
    (tmp_path / "export.csv").write_bytes(frame().to_csv(index=False).encode("utf-16"))
    assert list(read_table(tmp_path / "export.csv", "csv", "sentence", "label")["label"]) == [
        "-1",
        "0",
        "1",
        "1",
    ]


def test_a_tab_separated_file_named_csv_is_read_as_tsv(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    frame().to_csv(path, sep="\t", index=False)  # was: "no column 'sentence'"
    table = read_table(path, "csv", "sentence", "label")
    assert list(zip(table["text"], table["label"], strict=True)) == ROWS


def test_a_tab_separated_file_with_wrong_column_names_points_at_file_format(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    frame().to_csv(path, sep="\t", index=False)
    with pytest.raises(
        DataError, match=r"no column 'Text' .* The header is separated by tabs: set data.file_format: tsv"
    ):
        read_table(path, "csv", "Text", "label")


def test_a_training_file_with_a_single_label_stops_prepare_data(tmp_path: Path) -> None:
    path = tmp_path / "one.csv"
    pd.DataFrame({"text": [f"t{i}" for i in range(25)] + ["t1"], "label": ["Sports"] * 26}).to_csv(
        path, index=False
    )
    with pytest.raises(DataError) as err:
        prepare_data_files(DataConfig(train_file=str(path)), tmp_path / "out", progress=False)
    message = str(err.value)
    assert message.startswith(f"{path}: every training row (25 after cleaning) has the label 'Sports'")
    assert "at least two labels" in message and not (tmp_path / "out" / "train.arrow").exists()


def test_a_sharded_csv_split_reads_its_shards_in_order(tmp_path: Path) -> None:
    folder = tmp_path / "ds" / "train"
    folder.mkdir(parents=True)
    rows = [(f"वाक्य {label} {i}", label) for label in ("a", "b") for i in range(10)]
    frame(rows[:10]).to_csv(folder / "0000.csv", index=False)
    frame(rows[10:]).to_csv(folder / "0001.csv", index=False)
    report = prepare_data_files(
        DataConfig(dir=str(tmp_path / "ds"), text_column="sentence"), tmp_path / "out", progress=False
    )
    assert report["files"]["train"]["files"] == 2 and report["rows_read"] == 20
    got = sorted(t for s in ("train", "dev", "test") for t in read_split(tmp_path / "out", s)[0])
    assert got == sorted(t for t, _ in rows)
