"""Read the files of one split through `datasets.load_dataset` into an Arrow text/label dataset.

    ds = read_dataset([Path("train-00000-of-00002.parquet"), ...], "parquet", "text", "label",
                      source="hub:owner/name", cache_dir=Path("/tmp/x"))
    ds.column_names   # ["text", "label"], both strings; shards joined in file order
    table = read_table(Path("SHC_Test.csv"), "csv", "Text", "Label")   # pandas, with row numbers (tests)

The result is memory-mapped from an Arrow file under `cache_dir` (CSV and JSON are read in chunks),
so a file larger than memory is fine. Excel workbooks (.xlsx through openpyxl) are read by pandas:
they hold at most ~1M rows. Cells are strings exactly as written; missing ones (JSON null, an empty
Parquet cell) are empty strings; a number label 1.0 is "1".
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pyarrow as pa

from slimnlp.data.artifacts import WRITER_BATCH
from slimnlp.data.errors import DataError
from slimnlp.data.tables import check_columns, sniff_text_file


def read_dataset(
    paths: list[Path],
    fmt: str,
    text_column: str,
    label_column: str,
    source: str,
    cache_dir: Path,
    sheet: str | None = None,
):
    """The split's files as one `datasets.Dataset` with string columns `text` and `label`.

    Raises:
        DataError: naming the file (`source`) for a missing column, an unreadable file, a wrong
        sheet, text that is not UTF-8/UTF-16, or a file with a header but no rows.
    """
    import datasets

    datasets.logging.set_verbosity_error()
    wanted = [text_column, label_column]
    try:
        if fmt in ("csv", "tsv"):
            ds = _read_delimited(paths, fmt, wanted, source, cache_dir)
        elif fmt in ("xlsx", "xls"):
            ds = _read_excel(paths, fmt, wanted, source, sheet)
        else:
            builder = {"jsonl": "json", "parquet": "parquet", "arrow": "arrow"}[fmt]
            ds = datasets.load_dataset(
                builder, data_files=[str(p) for p in paths], split="train", cache_dir=str(cache_dir)
            )
            check_columns(list(ds.column_names), source, text_column, label_column)
    except DataError:
        raise
    except Exception as err:  # noqa: BLE001 - datasets wraps pandas/pyarrow errors; the cause is what matters
        raise _read_error(err, paths, fmt, source) from None
    if len(ds) == 0:
        raise DataError(f"{source}: the file has a header but no data rows; point data at a file with data")
    ds = ds.select_columns(list(dict.fromkeys(wanted)))
    if _plain_strings(ds, wanted):  # CSV, TSV, Excel and most Parquet: only the names change
        return ds.rename_columns({c: n for c, n in zip(wanted, ("text", "label"), strict=True) if c != n})
    return ds.map(
        _as_text_batch,
        batched=True,
        batch_size=10_000,
        writer_batch_size=WRITER_BATCH,
        fn_kwargs={"columns": wanted},
        remove_columns=list(dict.fromkeys(wanted)),
        features=datasets.Features({"text": datasets.Value("string"), "label": datasets.Value("string")}),
        cache_file_name=str(cache_dir / f"strings-{_name(source)}.arrow"),
        new_fingerprint=f"strings-{_name(source)}",
        desc="reading",
    )


def _plain_strings(ds, wanted: list[str]) -> bool:
    """Both columns are distinct, strings, and hold no nulls."""
    if wanted[0] == wanted[1]:
        return False
    if not all(getattr(ds.features[c], "dtype", None) in ("string", "large_string") for c in wanted):
        return False
    return not any(ds.data.column(c).null_count for c in wanted)


def _read_delimited(paths: list[Path], fmt: str, wanted: list[str], source: str, cache_dir: Path):
    import datasets

    layout = sniff_text_file(paths[0], fmt, wanted, source)
    check_columns(layout.columns, source, wanted[0], wanted[1], layout.sep)
    return datasets.load_dataset(
        "csv",
        data_files=[str(p) for p in paths],
        split="train",
        cache_dir=str(cache_dir),
        sep=layout.sep,
        encoding=layout.encoding,
        keep_default_na=False,
        usecols=list(dict.fromkeys(wanted)),
        features=datasets.Features({c: datasets.Value("string") for c in dict.fromkeys(wanted)}),
    )


def _read_excel(paths: list[Path], fmt: str, wanted: list[str], source: str, sheet: str | None):
    """An Excel workbook's sheet (data.sheet; the first sheet by default), every cell a string."""
    import datasets
    import pandas as pd

    frames = []
    for path in paths:
        try:
            book = pd.ExcelFile(path)
        except ImportError as err:
            raise DataError(
                f"{source}: reading .{fmt} needs {err.name or 'an Excel reader'} "
                f"(pip install {'xlrd' if fmt == 'xls' else 'openpyxl'}), or save the sheet as .xlsx/.csv"
            ) from None
        if sheet is not None and sheet not in book.sheet_names:
            raise DataError(
                f"{source}: no sheet {sheet!r} (data.sheet); the workbook's sheets are {book.sheet_names}"
            )
        frame = book.parse(sheet if sheet is not None else 0, dtype=str, keep_default_na=False)
        columns = [str(c) for c in frame.columns]
        where = f"{source} (sheet {sheet if sheet is not None else book.sheet_names[0]!r})"
        check_columns(columns, where, wanted[0], wanted[1])
        frames.append(frame[list(dict.fromkeys(wanted))].astype(str))
    return datasets.Dataset.from_pandas(pd.concat(frames, ignore_index=True), preserve_index=False)


def _as_text_batch(batch: pa.Table | dict[str, Any], columns: list[str]) -> dict[str, list[str]]:
    """text/label as strings: numbers as written (a whole float as an integer), null as ""."""
    text, label = columns
    return {"text": _strings(batch[text]), "label": _strings(batch[label])}


def _strings(values: list[Any]) -> list[str]:
    out = []
    for value in values:
        if value is None or (isinstance(value, float) and value != value):
            out.append("")
        elif isinstance(value, float) and value.is_integer():
            out.append(str(int(value)))  # a Parquet/JSON label 1.0 is the label "1"
        else:
            out.append(str(value))
    return out


def _name(source: str) -> str:
    import hashlib

    return hashlib.sha1(source.encode()).hexdigest()[:12]


def _read_error(err: Exception, paths: list[Path], fmt: str, source: str) -> DataError:
    """The clearest message for a failed read: the underlying cause, the file and line where known."""
    cause = _root_cause(err)
    if "corresponds to no data" in str(err) or "corresponds to no data" in str(cause):
        return DataError(f"{source}: the file has a header but no data rows; point data at a file with data")
    if isinstance(cause, UnicodeDecodeError):
        return DataError(
            f"{source}: not valid UTF-8 at byte {cause.start} ({cause.reason}); re-save the file "
            "as UTF-8 (or set data.file_format if this is not a text format)"
        )
    if fmt == "jsonl":
        bad = _bad_json_line(paths)
        if bad:
            return DataError(f"{source} {bad}")
    logging.getLogger(__name__).debug("read failed", exc_info=err)
    return DataError(
        f"{source}: cannot be read as {fmt}: {type(cause).__name__}: {str(cause)[:300]}; check the file "
        "or set data.file_format"
    )


def _root_cause(err: BaseException) -> BaseException:
    seen = set()
    while (err.__cause__ or err.__context__) is not None and id(err) not in seen:
        seen.add(id(err))
        err = err.__cause__ or err.__context__  # type: ignore[assignment]
    return err


def _bad_json_line(paths: list[Path]) -> str | None:
    """'line N: ...' for the first line of a JSON-lines file that is not one JSON object."""
    for path in paths:
        with open(path, encoding="utf-8-sig") as lines:
            first = lines.read(1)
            if first.strip() == "[":
                return None
            lines.seek(0)
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as err:
                    return f"line {number}: not valid JSON ({err.msg}); each line must be one JSON object"
                if not isinstance(record, dict):
                    return f"line {number}: expected a JSON object, got {type(record).__name__}"
    return None


def read_table(
    path: Path,
    fmt: str,
    text_column: str,
    label_column: str,
    source: str | None = None,
    sheet: str | None = None,
) -> Any:
    """One file as a DataFrame with string columns `text`, `label` and int column `row` (1-based,
    header not counted): the `datasets` reader's output, for small files and tests."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="slimnlp-table-") as cache:
        dataset = read_dataset(
            [path], fmt, text_column, label_column, source or str(path), Path(cache), sheet
        )
        frame = dataset.to_pandas()
    return frame.assign(row=range(1, len(frame) + 1))
