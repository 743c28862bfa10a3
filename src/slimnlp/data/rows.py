"""One file's rows through cleaning on Arrow: per-row rules in batches, whole-file rules on hashes.

    rows = clean_rows(ds, "Text", "Label", repair_mojibake=True, drop_repeats=True, work=Path("/tmp/x"))
    rows.report                  # {rule: report} as cleaning.clean_table gives it
    rows.frame()                 # the kept rows' labels as a pandas column (for splits.py)
    rows.dataset()               # the kept rows as a datasets.Dataset (memory-mapped)

Rules 1-4 of cleaning.py (header rows, mojibake, unicode, empty) run on batches of 10,000 rows in
`Dataset.map`, written to an Arrow file under `work`: memory does not grow with the file. Rules 5-6
(duplicates, conflicting labels), the train/test overlap and the label rules work on a 64-bit hash
of each text and of each text+label pair and on label codes (numpy arrays of a few bytes per row),
never on the texts as Python strings. Kept rows stay in file order.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from slimnlp.data.cleaning import (
    EXAMPLES,
    _short,
    drop_empty,
    drop_header_rows,
    fix_mojibake,
    normalize_unicode,
)

BATCH = 10_000


def text_hash(text: str) -> int:
    return int.from_bytes(
        hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little", signed=True
    )


class Rows:
    """A cleaned file: its Arrow rows, their hashes and label codes, and which rows are kept."""

    def __init__(self, ds, report: dict[str, Any]) -> None:
        self.ds = ds
        self.report = report
        table = ds.data
        self.h_text = table.column("h_text").to_numpy()
        self.h_pair = table.column("h_pair").to_numpy()
        labels = table.column("label")
        self.categories = np.array(sorted(pc.unique(labels).to_pylist()), dtype=object)
        self.codes = pc.index_in(labels, value_set=pa.array(self.categories.tolist(), pa.string())).to_numpy()
        self.kept = np.arange(len(ds))

    def __len__(self) -> int:
        return len(self.kept)

    def labels(self) -> np.ndarray:
        """The kept rows' labels (an object array sharing one string per label)."""
        return self.categories[self.codes[self.kept]]

    def frame(self) -> pd.DataFrame:
        """The kept rows' labels as a DataFrame with a positional index (what splits.py takes)."""
        return pd.DataFrame({"label": self.labels()})

    def narrowed(self, frame: pd.DataFrame) -> Rows:
        """Keep the rows of `frame`, a subset of `self.frame()` (its index: positions in it)."""
        return self.keep_positions(frame.index.to_numpy())

    def keep_positions(self, positions: np.ndarray) -> Rows:
        out = object.__new__(Rows)
        out.__dict__.update(self.__dict__)
        out.kept = self.kept[np.asarray(positions, dtype=np.int64)]
        return out

    def keep_mask(self, mask: np.ndarray) -> Rows:
        return self.keep_positions(np.flatnonzero(mask))

    def examples(self, mask: np.ndarray) -> list[dict[str, Any]]:
        """Up to EXAMPLES of the kept rows where `mask` is true, as the cleaning report shows them."""
        first = self.kept[np.flatnonzero(mask)[:EXAMPLES]]
        rows = self.ds.select(first.tolist()) if len(first) else None
        if rows is None:
            return []
        return [
            {"row": int(r), "label": label, "text": _short(text)}
            for r, label, text in zip(rows["row"], rows["label"], rows["text"], strict=True)
        ]

    def dataset(self):
        """The kept rows (text, label, row), in order."""
        return self.ds.select(self.kept) if len(self.kept) != len(self.ds) else self.ds


def clean_rows(
    ds, text_column: str, label_column: str, repair: bool, drop_repeats: bool, work: Path, relabel=None
) -> Rows:
    """Apply cleaning rules 1-6 to a text/label dataset; `relabel` (raw label -> label) is label
    normalisation, applied first."""
    import datasets

    acc: dict[str, dict[str, Any]] = {}
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
    name = f"clean-{len(list(work.glob('clean-*.arrow')))}"
    cleaned = ds.map(
        _clean_batch,
        batched=True,
        batch_size=BATCH,
        with_indices=True,
        fn_kwargs={"columns": (text_column, label_column), "repair": repair, "relabel": relabel, "acc": acc},
        remove_columns=ds.column_names,
        features=features,
        cache_file_name=str(work / f"{name}.arrow"),
        new_fingerprint=name,
        load_from_cache_file=False,
        desc="cleaning",
    )
    rows = Rows(cleaned, acc)
    rows = _duplicates(rows, drop_repeats)
    return _conflicting(rows)


def _clean_batch(batch, indices, columns, repair, relabel, acc) -> dict[str, list]:
    labels = batch["label"] if not relabel else [relabel.get(label, label) for label in batch["label"]]
    table = pd.DataFrame({"text": batch["text"], "label": labels, "row": [i + 1 for i in indices]})
    reports = {}
    table, reports["header_rows"] = drop_header_rows(table, *columns)
    table, reports["mojibake"] = fix_mojibake(table, repair)
    table, reports["unicode"] = normalize_unicode(table)
    table, reports["empty"] = drop_empty(table)
    for rule, report in reports.items():
        _merge(acc.setdefault(rule, {}), report)
    texts, labels = table["text"].tolist(), table["label"].tolist()
    return {
        "text": texts,
        "label": labels,
        "row": table["row"].tolist(),
        "h_text": [text_hash(t) for t in texts],
        "h_pair": [text_hash(f"{t}\0{label}") for t, label in zip(texts, labels, strict=True)],
    }


def _merge(total: dict[str, Any], part: dict[str, Any]) -> None:
    """Sum counts; keep the first EXAMPLES examples."""
    for key, value in part.items():
        if isinstance(value, list):
            total[key] = (total.get(key, []) + value)[:EXAMPLES]
        else:
            total[key] = total.get(key, 0) + value


def _duplicates(rows: Rows, drop: bool) -> Rows:
    """Rule 5: the same text with the same label again (later copies)."""
    pairs = rows.h_pair[rows.kept]
    repeated = np.ones(len(pairs), dtype=bool)
    repeated[np.unique(pairs, return_index=True)[1]] = False
    rows.report["duplicates"] = {
        "repeated": int(repeated.sum()),
        "dropped": int(repeated.sum()) if drop else 0,
        "examples": rows.examples(repeated),
    }
    return rows.keep_mask(~repeated) if drop else rows


def _conflicting(rows: Rows) -> Rows:
    """Rule 6: every copy of a text that appears with more than one label."""
    texts, pairs = rows.h_text[rows.kept], rows.h_pair[rows.kept]
    _, first = np.unique(pairs, return_index=True)
    per_text, counts = np.unique(texts[first], return_counts=True)
    bad_texts = per_text[counts > 1]
    conflicting = np.isin(texts, bad_texts)
    examples = []
    for text in pd.unique(texts[conflicting])[:EXAMPLES]:
        group = rows.kept[np.flatnonzero(texts == text)]
        sel = rows.ds.select(group.tolist())
        examples.append(
            {
                "text": _short(sel[0]["text"]),
                "labels": sorted(sel["label"]),
                "rows": [int(r) for r in sel["row"]],
            }
        )
    rows.report["conflicting_labels"] = {
        "dropped": int(conflicting.sum()),
        "texts": len(bad_texts),
        "examples": examples,
    }
    return rows.keep_mask(~conflicting)


def overlap(rows: Rows, other_texts: np.ndarray, drop: bool) -> tuple[Rows, dict[str, Any]]:
    """Rows whose text is also one of `other_texts` (hashes); dropped when `drop` (cleaning.drop_overlap)."""
    found = np.isin(rows.h_text[rows.kept], other_texts)
    per_label = pd.Series(rows.labels()[found]).value_counts().sort_index()
    report = {
        "rows": int(found.sum()),
        "dropped": int(found.sum()) if drop else 0,
        "dropped_per_label": {str(k): int(v) for k, v in per_label.items()} if drop else {},
        "examples": rows.examples(found),
    }
    return (rows.keep_mask(~found) if drop else rows), report


def drop_label_rows(rows: Rows, labels: list[str]) -> tuple[Rows, dict[str, Any]]:
    """data.drop_labels (cleaning.drop_labels on codes)."""
    excluded = np.isin(rows.labels(), np.array(labels, dtype=object))
    counts = pd.Series(rows.labels()[excluded]).value_counts().sort_index()
    report = {"dropped": int(excluded.sum()), "labels": {str(k): int(v) for k, v in counts.items()}}
    return rows.keep_mask(~excluded), report


def label_value_counts(ds) -> dict[str, int]:
    """{raw label: rows} of a text/label dataset, from Arrow (no Python string per row)."""
    counts = pc.value_counts(ds.data.column("label"))
    return {str(v["values"]): int(v["counts"]) for v in counts.to_pylist()}
