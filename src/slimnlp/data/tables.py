"""Read one labelled data file (CSV, TSV, JSONL or Parquet) into a text/label table of strings.

    table = read_table(Path("SHC_Test.csv"), "csv", "Text", "Label", source="s3://data/SHC_Test.csv")

Every value is read as a string (`"-1"` stays `"-1"`, `"NA"` stays `"NA"`), so labels and texts
arrive exactly as written. The table keeps each row's 1-based position in the file (header not
counted) so the cleaning report can point at it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from slimnlp.data.errors import DataError

FORMATS = ("csv", "tsv", "jsonl", "parquet")
_EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}
_COMPRESSIONS = (".gz", ".bz2", ".xz", ".zst", ".zip")


def detect_format(name: str, file_format: str = "auto") -> str:
    """The format of a file from `file_format`, or from its extension when that is "auto"."""
    if file_format != "auto":
        return file_format
    suffixes = [s.lower() for s in Path(name).suffixes]
    if suffixes and suffixes[-1] in _COMPRESSIONS:
        suffixes = suffixes[:-1]
    if suffixes and suffixes[-1] in _EXTENSIONS:
        return _EXTENSIONS[suffixes[-1]]
    raise DataError(
        f"{name}: cannot tell the file format from its name; set data.file_format to one of "
        f"{FORMATS} or give the file one of the extensions {sorted(_EXTENSIONS)}"
    )


def is_data_file(path: Path) -> bool:
    try:
        detect_format(path.name)
    except DataError:
        return False
    return path.is_file() and not path.name.startswith(".")


def read_table(
    path: Path, fmt: str, text_column: str, label_column: str, source: str | None = None
) -> pd.DataFrame:
    """Read `path` and return a DataFrame with string columns `text`, `label` and int column `row`.

    Args:
        path: the local file.
        fmt: one of FORMATS (see detect_format).
        text_column, label_column: the columns to keep (data.text_column, data.label_column).
        source: what to call the file in messages (its URI); defaults to the path.
    """
    source = source or str(path)
    readers = {"csv": _read_csv, "tsv": _read_csv, "jsonl": _read_jsonl, "parquet": _read_parquet}
    try:
        frame = readers[fmt](path, fmt, source)
    except UnicodeDecodeError as err:
        raise DataError(
            f"{source}: not valid UTF-8 at byte {err.start} ({err.reason}); re-save the file "
            "as UTF-8 (or set data.file_format if this is not a text format)"
        ) from None
    except DataError:
        raise
    except Exception as err:  # noqa: BLE001 - pandas/pyarrow raise many types; the message is what matters
        raise DataError(
            f"{source}: cannot be read as {fmt}: {type(err).__name__}: {err}; check the file "
            "or set data.file_format"
        ) from None
    _check_columns(frame, source, text_column, label_column)
    if len(frame) == 0:
        raise DataError(f"{source}: the file has a header but no data rows; point data at a file with data")
    table = pd.DataFrame(
        {
            "text": frame[text_column].map(_as_text).astype(str),
            "label": frame[label_column].map(_as_text).astype(str),
            "row": range(1, len(frame) + 1),
        }
    )
    return table


def _read_csv(path: Path, fmt: str, source: str) -> pd.DataFrame:
    # utf-8-sig: a byte-order mark (Excel exports) must not end up in the first column's name.
    return pd.read_csv(
        path, sep="\t" if fmt == "tsv" else ",", dtype=str, keep_default_na=False, encoding="utf-8-sig"
    )


def _read_jsonl(path: Path, fmt: str, source: str) -> pd.DataFrame:
    text = path.read_text(encoding="utf-8-sig")
    if text.lstrip().startswith("["):  # a .json file holding one array of records
        return pd.DataFrame(json.loads(text))
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise DataError(
                f"{source} line {number}: not valid JSON ({err.msg}); each line must be one JSON object"
            ) from None
        if not isinstance(record, dict):
            raise DataError(f"{source} line {number}: expected a JSON object, got {type(record).__name__}")
        records.append(record)
    return pd.DataFrame.from_records(records)


def _read_parquet(path: Path, fmt: str, source: str) -> pd.DataFrame:
    return pd.read_parquet(path)


def _check_columns(frame: pd.DataFrame, source: str, text_column: str, label_column: str) -> None:
    columns = [str(c) for c in frame.columns]
    for key, column in (("text_column", text_column), ("label_column", label_column)):
        if column not in columns:
            raise DataError(
                f"{source}: no column {column!r} (data.{key}); the file's columns are {columns}. "
                f"Set data.{key} to the column holding the {key.split('_')[0]}s"
            )


def _as_text(value: Any) -> str:
    """A cell as a string; missing values (JSON null, Parquet NaN) become empty strings."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a Parquet/JSON label 1.0 is the label "1"
    return str(value)
