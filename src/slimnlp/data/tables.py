"""Which format a data file is in, and how a delimited text file is written (encoding, delimiter).

    fmt = detect_format("SHC_Test.csv")                                   # "csv"
    layout = sniff_text_file(Path("a.csv"), "csv", ["Text", "Label"], source="a.csv")

The reading itself goes through the `datasets` library (readers.py). Every value is read as a
string (`"-1"` stays `"-1"`, `"NA"` stays `"NA"`), so labels and texts arrive exactly as written.
A UTF-8 or UTF-16 byte-order mark (Excel's "CSV UTF-8" and "Unicode text" exports) picks the
encoding; a ".csv" file whose header is separated by tabs or semicolons is read with that delimiter.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from slimnlp.data.errors import DataError

FORMATS = ("csv", "tsv", "jsonl", "parquet", "arrow", "xlsx", "xls")
_EXTENSIONS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".arrow": "arrow",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".xls": "xls",
}
_COMPRESSIONS = (".gz", ".bz2", ".xz", ".zst", ".zip")
_BOMS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))
_DELIMITERS = {",": "comma", "\t": "tab", ";": "semicolon", "|": "pipe"}


def detect_format(name: str, file_format: str = "auto") -> str:
    """The format of a file from `file_format`, or from its extension when that is "auto"."""
    if file_format not in ("auto", "json"):
        return file_format
    if file_format == "json":
        return "jsonl"
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
    return path.is_file() and not path.name.startswith((".", "~$"))  # ~$: Excel's lock file


@dataclass(frozen=True)
class TextLayout:
    """How a delimited text file is written: what `pandas.read_csv` needs to read it."""

    encoding: str
    sep: str
    columns: list[str]


def sniff_text_file(path: Path, fmt: str, wanted: list[str], source: str) -> TextLayout:
    """The encoding (from a byte-order mark; UTF-8 otherwise) and delimiter of a CSV/TSV file.

    The delimiter is the format's (comma or tab) unless the header holds none of the `wanted`
    columns that way but all of them split on a tab, semicolon or pipe: a tab-separated file named
    .csv is read as TSV. Raises DataError naming the file for text that is not UTF-8/UTF-16.
    """
    compressed = path.suffix.lower() in _COMPRESSIONS
    encoding = "utf-8-sig"
    if not compressed:
        with open(path, "rb") as raw:
            head = raw.read(4)
        encoding = next((enc for bom, enc in _BOMS if head.startswith(bom)), "utf-8-sig")
    sep = "\t" if fmt == "tsv" else ","
    try:
        header = pd.read_csv(path, sep=sep, nrows=0, encoding=encoding, dtype=str)
        columns = [str(c) for c in header.columns]
        if not set(wanted) <= set(columns):
            for other in _DELIMITERS:
                if other == sep:
                    continue
                alt = pd.read_csv(path, sep=other, nrows=0, encoding=encoding, dtype=str)
                alt_columns = [str(c) for c in alt.columns]
                if set(wanted) <= set(alt_columns):
                    return TextLayout(encoding, other, alt_columns)
    except UnicodeDecodeError as err:
        raise _not_utf8(source, err) from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{source}: the file is empty; point data at a file with a header and rows") from None
    return TextLayout(encoding, sep, columns)


def check_columns(
    columns: list[str], source: str, text_column: str, label_column: str, sep: str = ""
) -> None:
    """Stop when the text or label column is missing, naming the file's columns (and, for a
    delimited file whose header holds one column with tabs in it, data.file_format: tsv)."""
    for key, column in (("text_column", text_column), ("label_column", label_column)):
        if column not in columns:
            hint = ""
            if sep == "," and len(columns) == 1 and "\t" in columns[0]:
                hint = " The header is separated by tabs: set data.file_format: tsv."
            raise DataError(
                f"{source}: no column {column!r} (data.{key}); the file's columns are {columns}. "
                f"Set data.{key} to the column holding the {key.split('_')[0]}s.{hint}"
            )


def _not_utf8(source: str, err: UnicodeDecodeError) -> DataError:
    return DataError(
        f"{source}: not valid UTF-8 at byte {err.start} ({err.reason}); re-save the file "
        "as UTF-8 (or set data.file_format if this is not a text format)"
    )
