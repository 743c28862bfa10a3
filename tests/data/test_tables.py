"""Reading CSV, TSV, JSONL and Parquet files as text/label string tables."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from slimnlp.data.errors import DataError
from slimnlp.data.readers import read_table
from slimnlp.data.tables import detect_format

ROWS = [("नमस्कार, जग", "-1"), ('"उद्धृत" मजकूर', "0"), ("NA", "1"), ("tab\tinside? no", "1")]


def write(path: Path, fmt: str, rows=ROWS, text_column="sentence", label_column="label") -> Path:
    frame = pd.DataFrame(
        {
            "index": range(len(rows)),
            text_column: [t for t, _ in rows],
            label_column: [label for _, label in rows],
        }
    )
    if fmt == "csv":
        frame.to_csv(path, index=False)
    elif fmt == "tsv":
        frame.to_csv(path, sep="\t", index=False)
    elif fmt == "jsonl":
        frame.to_json(path, orient="records", lines=True, force_ascii=False)
    else:
        frame.to_parquet(path, index=False)
    return path


@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl", "parquet"])
def test_each_format_round_trips_as_strings(tmp_path: Path, fmt: str) -> None:
    path = write(tmp_path / f"data.{fmt}", fmt)
    table = read_table(path, detect_format(path.name), "sentence", "label")
    assert list(zip(table["text"], table["label"], strict=True)) == ROWS  # "NA" and "-1" stay strings
    assert list(table["row"]) == [1, 2, 3, 4]


def test_integer_labels_in_jsonl_and_parquet_become_strings(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text('{"text": "x", "label": 1}\n\n{"text": "y", "label": null}\n')
    table = read_table(tmp_path / "a.jsonl", "jsonl", "text", "label")
    assert list(table["label"]) == ["1", ""]
    pd.DataFrame({"text": ["x", "y"], "label": [1.0, None]}).to_parquet(tmp_path / "a.parquet")
    assert list(read_table(tmp_path / "a.parquet", "parquet", "text", "label")["label"]) == ["1", ""]


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("a.CSV", "csv"),
        ("a.tsv.gz", "tsv"),
        ("a.ndjson", "jsonl"),
        ("dir/a.json", "jsonl"),
        ("a.pq", "parquet"),
    ],
)
def test_detect_format_from_the_extension(name: str, fmt: str) -> None:
    assert detect_format(name) == fmt


def test_unknown_extension_asks_for_file_format() -> None:
    with pytest.raises(DataError, match=r"data.txt: cannot tell the file format .* set data.file_format"):
        detect_format("data.txt")
    assert detect_format("data.txt", "tsv") == "tsv"


def test_missing_column_names_file_column_and_the_columns_there(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", "csv")
    with pytest.raises(DataError) as err:
        read_table(path, "csv", "Text", "label", source="s3://bucket/a.csv")
    message = str(err.value)
    assert message.startswith("s3://bucket/a.csv: no column 'Text' (data.text_column)")
    assert "['index', 'sentence', 'label']" in message and "Set data.text_column" in message
    with pytest.raises(DataError, match=r"no column 'Label' \(data.label_column\)"):
        read_table(path, "csv", "sentence", "Label")


def test_header_only_file_is_an_empty_dataset(tmp_path: Path) -> None:
    (tmp_path / "empty.csv").write_text("text,label\n")
    with pytest.raises(DataError, match=r"empty.csv: the file has a header but no data rows"):
        read_table(tmp_path / "empty.csv", "csv", "text", "label")


def test_non_utf8_file_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "latin.csv").write_bytes("text,label\ncafé,a\n".encode("latin-1"))
    with pytest.raises(
        DataError, match=r"latin.csv: not valid UTF-8 at byte \d+ .*re-save the file as UTF-8"
    ):
        read_table(tmp_path / "latin.csv", "csv", "text", "label")


def test_bad_json_line_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text(json.dumps({"text": "x", "label": "a"}) + "\n{broken\n")
    with pytest.raises(DataError, match=r"a.jsonl line 2: not valid JSON"):
        read_table(tmp_path / "a.jsonl", "jsonl", "text", "label")


def test_unreadable_parquet_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "a.parquet").write_text("not parquet")
    with pytest.raises(DataError, match=r"a.parquet: cannot be read as parquet"):
        read_table(tmp_path / "a.parquet", "parquet", "text", "label")


def test_byte_order_mark_does_not_rename_the_first_column(tmp_path: Path) -> None:
    (tmp_path / "excel.csv").write_bytes("\ufefftext,label\nx,a\n".encode())
    assert list(read_table(tmp_path / "excel.csv", "csv", "text", "label")["text"]) == ["x"]
