"""One file's rows through cleaning on Arrow: per-row rules in batches, whole-file rules on hashes.

    rows = clean_rows(ds, "Text", "Label", repair_mojibake=True, drop_repeats=True, work=Path("/tmp/x"))
    rows.report                  # {rule: report} as cleaning.clean_table gives it
    rows.label_counts()          # {label: kept rows}
    rows.dataset()               # the kept rows as a datasets.Dataset (memory-mapped)

Rules 1-4 of cleaning.py (header rows, mojibake, unicode, empty) run on batches of 10,000 rows in
`Dataset.map`, written to an Arrow file under `work`: memory does not grow with the file. Rules 5-6
(duplicates, conflicting labels), the train/test overlap and the label rules work on a 64-bit hash
of each text and of each text+label pair and on label codes, never on the texts as Python strings.
Those per-row numbers are spill.Disk arrays (files mapped into memory), and the rules that compare
rows sort one hash partition at a time (spill.Disk.partitions), so memory does not grow with the
file either. Kept rows stay in file order.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from slimnlp.data import spill
from slimnlp.data.artifacts import WRITER_BATCH
from slimnlp.data.cleaning import (
    EXAMPLES,
    _short,
    drop_empty,
    drop_header_rows,
    fix_mojibake,
    normalize_unicode,
)
from slimnlp.data.spill import Disk

BATCH = 10_000
REPORT_ROW = 0  # the row number of a batch's report row (data rows count from 1)


def text_hash(text: str) -> int:
    return int.from_bytes(
        hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little", signed=True
    )


class Rows:
    """A cleaned file: its Arrow rows, their hashes and label codes, and which rows are kept.

    The per-row arrays (h_text, h_pair, codes, kept) are spill.Disk arrays: files mapped into memory
    for a file of many rows, so they do not add to what the process holds."""

    def __init__(self, ds, report: dict[str, Any], disk: Disk) -> None:
        self.ds, self.report, self.disk = ds, report, disk
        table = ds.data
        self.h_text, self.h_pair = (
            disk.from_chunks((c.to_numpy() for c in table.column(name).chunks), len(ds), np.int64)
            for name in ("h_text", "h_pair")
        )
        labels = table.column("label")
        self.categories = np.array(sorted(pc.unique(labels).to_pylist()), dtype=object)
        value_set = pa.array(self.categories.tolist(), pa.string())
        codes = (pc.index_in(c, value_set=value_set).to_numpy(zero_copy_only=False) for c in labels.chunks)
        self.codes = disk.from_chunks(codes, len(ds), np.int64)
        self.kept = disk.arange(len(ds))

    def __len__(self) -> int:
        return len(self.kept)

    def kept_codes(self) -> np.ndarray:
        """The kept rows' label codes (indices into `categories`)."""
        return self.disk.take(self.codes, self.kept)

    def label_counts(self, mask: np.ndarray | None = None) -> dict[str, int]:
        """{label: kept rows} (of the kept rows where `mask` is true), labels with rows, sorted."""
        counts = spill.bincount(self.kept_codes(), len(self.categories), mask)
        return {str(self.categories[c]): int(counts[c]) for c in np.flatnonzero(counts)}

    def codes_of(self, labels: Iterable[str]) -> np.ndarray:
        """The codes of those of `labels` this file has."""
        return np.flatnonzero(np.isin(self.categories, np.array(list(labels), dtype=object)))

    def with_labels(self, labels: Iterable[str]) -> np.ndarray:
        """A mask over the kept rows: the label is one of `labels`."""
        return spill.isin(self.kept_codes(), self.codes_of(labels), self.disk.array(len(self), bool))

    def keep_positions(self, positions: np.ndarray) -> Rows:
        """Keep the kept rows at `positions` (ascending)."""
        return self._with_kept(self.disk.take(self.kept, np.asarray(positions, dtype=np.int64)))

    def keep_mask(self, mask: np.ndarray, invert: bool = False) -> Rows:
        """Keep the kept rows where `mask` is true (false with `invert`)."""
        return self._with_kept(self.disk.compress(self.kept, mask, invert))

    def _with_kept(self, kept: np.ndarray) -> Rows:
        out = object.__new__(Rows)
        out.__dict__.update(self.__dict__)
        out.kept = kept
        return out

    def examples(self, mask: np.ndarray) -> list[dict[str, Any]]:
        """Up to EXAMPLES of the kept rows where `mask` is true, as the cleaning report shows them."""
        first = self.kept[spill.first_true(mask, EXAMPLES)]
        rows = self.ds.select(first.tolist()) if len(first) else None
        if rows is None:
            return []
        return [
            {"row": int(r), "label": label, "text": _short(text)}
            for r, label, text in zip(rows["row"], rows["label"], rows["text"], strict=True)
        ]

    def dataset(self):
        """The kept rows (text, label, row), in order: an indices mapping over the cleaned file,
        written to disk in chunks (datasets' own `select` makes a Python list of the indices)."""
        import datasets
        from datasets.table import MemoryMappedTable

        if len(self.kept) == len(self.ds):
            return self.ds
        path = self.disk.path("indices.arrow")
        schema = pa.schema([("indices", pa.uint64())])
        with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, schema) as writer:
            for part in spill.chunks(len(self.kept)):
                writer.write_batch(pa.record_batch([pa.array(self.kept[part], pa.uint64())], schema=schema))
        indices = MemoryMappedTable.from_file(str(path))
        return datasets.Dataset(self.ds.data, info=self.ds.info.copy(), split=self.ds.split,
                                indices_table=indices, fingerprint=f"kept-{len(self.kept)}-{id(indices)}")  # fmt: skip


def clean_rows(
    ds,
    text_column: str,
    label_column: str,
    repair: bool,
    drop_repeats: bool,
    work: Path,
    relabel=None,
    workers: int | None = None,
) -> Rows:
    """Apply cleaning rules 1-6 to a text/label dataset; `relabel` (raw label -> label) is label
    normalisation, applied first. Rules 1-4 run in `workers` processes (default: two from
    PARALLEL_ROWS rows on, tokenise.tokenise_workers); each batch's rule report travels in the
    mapped rows (a report row, row number 0), so the counts and examples are the same either way."""
    import datasets

    from slimnlp.data.tokenise import tokenise_workers

    features = datasets.Features(
        {
            "text": datasets.Value("string"),
            "label": datasets.Value("string"),
            "row": datasets.Value("int64"),
            "h_text": datasets.Value("int64"),
            "h_pair": datasets.Value("int64"),
        }
    )
    work.mkdir(parents=True, exist_ok=True)
    name = f"clean-{len(list(work.glob('clean-*')))}"
    cleaned = ds.map(
        _clean_batch,
        batched=True,
        batch_size=BATCH,
        writer_batch_size=WRITER_BATCH,
        with_indices=True,
        num_proc=workers or tokenise_workers(len(ds)),
        fn_kwargs={"columns": (text_column, label_column), "repair": repair, "relabel": relabel},
        remove_columns=ds.column_names,
        features=features,
        cache_file_name=str(work / name / "rows.arrow"),
        new_fingerprint=name,
        load_from_cache_file=False,
        desc="cleaning",
    )
    rows = Rows(cleaned, {}, Disk(work / "spill"))
    rows = _batch_reports(rows)
    rows = _duplicates(rows, drop_repeats)
    return _conflicting(rows)


def _clean_batch(batch, indices, columns, repair, relabel) -> dict[str, list]:
    """Rules 1-4 on one batch: its kept rows with their hashes, then one report row (row number 0,
    the batch's rule reports as JSON in `text`)."""
    labels = batch["label"] if not relabel else [relabel.get(label, label) for label in batch["label"]]
    table = pd.DataFrame({"text": batch["text"], "label": labels, "row": [i + 1 for i in indices]})
    reports = {}
    table, reports["header_rows"] = drop_header_rows(table, *columns)
    table, reports["mojibake"] = fix_mojibake(table, repair)
    table, reports["unicode"] = normalize_unicode(table)
    table, reports["empty"] = drop_empty(table)
    texts, labels = table["text"].tolist(), table["label"].tolist()
    return {
        "text": texts + [json.dumps(reports, ensure_ascii=False)],
        "label": labels + [""],
        "row": table["row"].tolist() + [REPORT_ROW],
        "h_text": [text_hash(t) for t in texts] + [0],
        "h_pair": [text_hash(f"{t}\0{label}") for t, label in zip(texts, labels, strict=True)] + [0],
    }


def _batch_reports(rows: Rows) -> Rows:
    """Sum the report rows' rule reports (in file order: the first examples come first) into
    rows.report, and keep every other row."""
    column = rows.ds.data.column("row")
    is_report = rows.disk.from_chunks((c.to_numpy() == REPORT_ROW for c in column.chunks), len(column), bool)
    texts = rows.ds.data.column("text")
    for position in rows.disk.compress(None, is_report):
        for rule, report in json.loads(texts[int(position)].as_py()).items():
            _merge(rows.report.setdefault(rule, {}), report)
    return rows.keep_mask(is_report, invert=True)


def _merge(total: dict[str, Any], part: dict[str, Any]) -> None:
    """Sum counts; keep the first EXAMPLES examples."""
    for key, value in part.items():
        if isinstance(value, list):
            total[key] = (total.get(key, []) + value)[:EXAMPLES]
        else:
            total[key] = total.get(key, 0) + value


def _duplicates(rows: Rows, drop: bool) -> Rows:
    """Rule 5: the same text with the same label again (later copies)."""
    repeated = rows.disk.array(len(rows), bool)
    for group in rows.disk.partitions(rows.disk.take(rows.h_pair, rows.kept)):
        _repeated_in(group, repeated)
        del group  # one partition in memory at a time (its temporaries went with the call)
    count = int(np.count_nonzero(repeated))
    rows.report["duplicates"] = {
        "repeated": count,
        "dropped": count if drop else 0,
        "examples": rows.examples(repeated),
    }
    return rows.keep_mask(repeated, invert=True) if drop else rows


def _conflicting(rows: Rows) -> Rows:
    """Rule 6: every copy of a text that appears with more than one label."""
    disk = rows.disk
    texts = disk.take(rows.h_text, rows.kept)
    conflicting, firsts = disk.array(len(rows), bool), []
    for group in disk.partitions(texts, disk.take(rows.h_pair, rows.kept)):
        firsts.append(_conflicts_in(group, conflicting))
        del group
    found = np.concatenate(firsts, axis=1)  # (first row, text hash) of each text with two labels
    examples = []
    if found.shape[1]:  # the first EXAMPLES such texts in row order, with every row that has them
        shown = found[1][np.argsort(found[0], kind="stable")[:EXAMPLES]]
        where = spill.isin(texts, shown, disk.array(len(rows), bool))
        positions = disk.compress(None, where)
        for text in shown:
            group = rows.kept[positions[texts[positions] == text]]
            sel = rows.ds.select(group.tolist())
            examples.append(
                {
                    "text": _short(sel[0]["text"]),
                    "labels": sorted(sel["label"]),
                    "rows": [int(r) for r in sel["row"]],
                }
            )
    rows.report["conflicting_labels"] = {
        "dropped": int(np.count_nonzero(conflicting)),
        "texts": int(found.shape[1]),
        "examples": examples,
    }
    return rows.keep_mask(conflicting, invert=True)


def _repeated_in(group: tuple[np.ndarray, np.ndarray], repeated: np.ndarray) -> None:
    """Mark every copy of a pair hash but the first (in row order) of one partition."""
    positions, pairs = group
    again = np.ones(len(pairs), dtype=bool)
    again[np.unique(pairs, return_index=True)[1]] = False
    repeated[positions[again]] = True


def _conflicts_in(group: tuple[np.ndarray, ...], conflicting: np.ndarray) -> np.ndarray:
    """Mark the rows of one partition whose text has two or more pair hashes (labels); returns
    (first row, text hash) of each such text, a 2 x texts array."""
    positions, text, pair = group
    first = np.unique(pair, return_index=True)[1]
    per_text, counts = np.unique(text[first], return_counts=True)
    bad = per_text[counts > 1]
    hit = np.isin(text, bad)
    conflicting[positions[hit]] = True
    hashes, first_row = np.unique(text[hit], return_index=True)
    return np.stack([positions[hit][first_row], hashes])


def overlap(rows: Rows, other: Rows, drop: bool) -> tuple[Rows, dict[str, Any]]:
    """Rows whose text is also a kept text of `other`; dropped when `drop` (cleaning.drop_overlap)."""
    disk = rows.disk
    mine, theirs = disk.take(rows.h_text, rows.kept), other.disk.take(other.h_text, other.kept)
    parts = spill.partitions_for(max(len(mine), len(theirs)))
    found = disk.array(len(rows), bool)
    for group, other_group in zip(
        disk.partitions(mine, parts=parts), other.disk.partitions(theirs, parts=parts), strict=True
    ):
        positions, texts = group
        found[positions[np.isin(texts, other_group[1])]] = True
        del group, other_group, positions, texts
    per_label = rows.label_counts(found)
    count = sum(per_label.values())
    report = {
        "rows": count,
        "dropped": count if drop else 0,
        "dropped_per_label": per_label if drop else {},
        "examples": rows.examples(found),
    }
    return (rows.keep_mask(found, invert=True) if drop else rows), report


def drop_label_rows(rows: Rows, labels: list[str]) -> tuple[Rows, dict[str, Any]]:
    """data.drop_labels (cleaning.drop_labels on codes)."""
    excluded = rows.with_labels(labels)
    counts = rows.label_counts(excluded)
    report = {"dropped": sum(counts.values()), "labels": counts}
    return rows.keep_mask(excluded, invert=True), report


def label_value_counts(ds) -> dict[str, int]:
    """{raw label: rows} of a text/label dataset, from Arrow (no Python string per row)."""
    counts = pc.value_counts(ds.data.column("label"))
    return {str(v["values"]): int(v["counts"]) for v in counts.to_pylist()}
