"""Label spellings: one label written several ways, and dev/test labels the training data lacks.

    tables, report = normalize_labels(tables)          # data.normalize_labels: true
    check_label_spellings(tables, sources)             # otherwise: stop, naming the option

Two spellings are the same label when they differ only in case, in whitespace (ends, runs of
spaces) or, for numbers, in how the number is written (`1`, `1.0`, `+1`). Normalising spells every
such group as its most frequent spelling over all files, so `Respect` (120 rows) and `respect`
(14 rows) become `Respect`; numbers keep the spelling the files use most (`-1.0`, not `-1`).
"""

from __future__ import annotations

import math
import unicodedata
from collections import Counter
from typing import Any

import pandas as pd

from slimnlp.data.errors import DataError


def spelling(label: str) -> str:
    """The label as written, with Unicode NFC and whitespace trimmed and runs of it made one space."""
    return " ".join(unicodedata.normalize("NFC", label).split())


def label_key(label: str) -> str:
    """What two spellings of one label have in common: casefolded, whitespace collapsed; a number's value."""
    written = spelling(label)
    try:
        value = float(written)
    except ValueError:
        return written.casefold()
    return repr(value) if math.isfinite(value) else written.casefold()


def _groups(counts: dict[str, dict[str, int]]) -> dict[str, Counter]:
    """label key -> Counter of its spellings over every file ({split: {raw label: rows}})."""
    groups: dict[str, Counter] = {}
    for per_label in counts.values():
        for raw, rows in per_label.items():
            label = spelling(raw)
            if label:
                groups.setdefault(label_key(label), Counter())[label] += int(rows)
    return groups


def _chosen(spellings: Counter) -> str:
    """The most frequent spelling; on a tie the first in sorted order, so the choice is reproducible."""
    return sorted(spellings.items(), key=lambda item: (-item[1], item[0]))[0][0]


def normalize_labels(tables: dict[str, pd.DataFrame]) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """Spell every label as the most frequent spelling of its group, in every file.

    Returns:
        The tables, and a report: `merged` (chosen spelling -> rows per spelling it absorbed, only
        for groups of more than one spelling) and `rows_changed` per split.
    """
    counts = {split: table["label"].value_counts(sort=False).to_dict() for split, table in tables.items()}
    relabel, report = normalize_label_counts(counts)
    out = {
        split: table.assign(label=table["label"].map(lambda s: relabel.get(s, s)))
        for split, table in tables.items()
    }
    return out, report


def normalize_label_counts(counts: dict[str, dict[str, int]]) -> tuple[dict[str, str], dict[str, Any]]:
    """normalize_labels from {split: {raw label: rows}}: returns {raw label: label} for the labels
    that change, and the report."""
    groups = _groups(counts)
    mapping = {key: _chosen(spellings) for key, spellings in groups.items()}
    relabel = {}
    for per_label in counts.values():
        for raw in per_label:
            new = mapping.get(label_key(raw), raw) if spelling(raw) else raw
            if new != raw:
                relabel[raw] = new
    changed = {
        split: sum(int(n) for raw, n in per_label.items() if raw in relabel)
        for split, per_label in counts.items()
    }
    merged = {mapping[key]: dict(sorted(s.items())) for key, s in sorted(groups.items()) if len(s) > 1}
    return relabel, {"merged": merged, "rows_changed": changed, "mapping": mapping}


def canonical(labels: list[str], report: dict[str, Any] | None) -> list[str]:
    """Labels named in the config (data.drop_labels) in the spelling normalising chose for them."""
    if not report:
        return list(labels)
    return [report["mapping"].get(label_key(label), label) for label in labels]


def value_counts(table: pd.DataFrame | pd.Series) -> pd.Series:
    """Rows per label of a table with a label column; a Series is taken as those counts already."""
    return table if isinstance(table, pd.Series) else table["label"].value_counts()


def check_label_spellings(tables: dict[str, pd.DataFrame | pd.Series], sources: dict[str, Any]) -> None:
    """Stop when two labels differ only in case, whitespace or number format: they would become
    two classes (or a dev/test label the model never saw). `tables`: a table or its label counts
    per split."""
    by_key: dict[str, dict[str, list[str]]] = {}
    for split, table in tables.items():
        for label, rows in value_counts(table).items():
            found = by_key.setdefault(label_key(label), {}).setdefault(label, [])
            found.append(f"{rows} in {sources[split].uri if split in sources else split}")
    clashes = {key: found for key, found in by_key.items() if len(found) > 1}
    if not clashes:
        return
    listed = "; ".join(
        " vs ".join(f"{label!r} ({', '.join(where)})" for label, where in sorted(found.items()))
        for found in clashes.values()
    )
    raise DataError(
        f"labels that differ only in case, whitespace or number format: {listed}. They would be "
        "separate classes. Set data.normalize_labels: true to merge each group into its most "
        "frequent spelling, or fix the files"
    )


def near_spellings(unknown: list[str], known: set[str]) -> dict[str, str]:
    """Unknown label -> the known label it differs from only in case, whitespace or number format."""
    keys = {label_key(label): label for label in known}
    return {label: keys[label_key(label)] for label in unknown if label_key(label) in keys}


def sort_labels(labels: list[str]) -> list[str]:
    """Numeric labels in numeric order (-1, 0, 1, 2, 10); any other set in string order."""
    try:
        values = {label: float(label) for label in labels}
    except ValueError:
        return sorted(labels)
    if not all(math.isfinite(v) for v in values.values()):
        return sorted(labels)
    return sorted(labels, key=lambda label: (values[label], label))
