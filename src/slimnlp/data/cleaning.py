"""The cleaning rules, applied in order to each file's text/label table.

    table, report = clean_table(table, text_column="Text", label_column="Label", repair_mojibake=True)

1. header rows    a row equal to the header (`Text,Label`) repeated inside the data: dropped
2. mojibake       UTF-8 Devanagari read as cp866 (`рд╕реНрдЯреНрд░реА` for `स्ट्री`): repaired when the
                  repair round-trips and gives Devanagari, dropped otherwise
3. unicode        NFC normalisation; whitespace stripped from both ends; zero-width spaces removed
4. empty          an empty text or label after 1-3: dropped
5. duplicates     the same text with the same label again: later copies dropped (counted and kept
                  when `drop_duplicates=False`: the file as published, for figures comparable with
                  reports that score the published test file)
6. conflicting    the same text with different labels: every copy dropped (we cannot know which is right)

Each rule returns the kept table and a small report: counts plus a few examples with their row
numbers. Train/test overlap is a rule between files, so it lives in `drop_overlap`; `drop_labels`
removes the labels the config excludes.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

import pandas as pd

EXAMPLES = 3  # examples kept per rule in the report

# UTF-8 Devanagari is E0 A4 xx / E0 A5 xx; read as cp866 each letter becomes "рд" or "ре" followed by
# one character from cp866's upper half (Cyrillic or box drawing). A text made mostly of such
# triples is mojibake (we require 80% of its upper-half characters); Russian text has them only here
# and there.
_CP866_UPPER = bytes(range(0x80, 0x100)).decode("cp866")
_MOJIBAKE_TRIPLE = re.compile("р[де][" + re.escape(_CP866_UPPER) + "]")
_EDGE_SPACE = " \t\r\n\f\v\u00a0\u2000\u2001\u2002\u2003\u2009\u202f\u3000"
_ZERO_WIDTH_SPACES = "[\u200b\ufeff]"


def clean_table(
    table: pd.DataFrame,
    text_column: str,
    label_column: str,
    repair_mojibake: bool = True,
    drop_repeats: bool = True,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Apply rules 1-6 to one file's table; returns the clean table and {rule: report}."""
    report: dict[str, Any] = {}
    table, report["header_rows"] = drop_header_rows(table, text_column, label_column)
    table, report["mojibake"] = fix_mojibake(table, repair_mojibake)
    table, report["unicode"] = normalize_unicode(table)
    table, report["empty"] = drop_empty(table)
    table, report["duplicates"] = drop_duplicates(table, drop_repeats)
    table, report["conflicting_labels"] = drop_conflicting_labels(table)
    return table.reset_index(drop=True), report


def drop_header_rows(table: pd.DataFrame, text_column: str, label_column: str) -> tuple[pd.DataFrame, dict]:
    """Drop rows that repeat the header (files concatenated with their headers)."""
    is_header = (table["text"].str.strip() == text_column) & (table["label"].str.strip() == label_column)
    return table[~is_header], {"dropped": int(is_header.sum()), "examples": _examples(table[is_header])}


def fix_mojibake(table: pd.DataFrame, repair: bool = True) -> tuple[pd.DataFrame, dict]:
    """Repair Devanagari read as cp866; drop it when the repair fails (or `repair` is False)."""
    verdicts = table["text"].map(classify_mojibake)
    repairable = verdicts.map(lambda v: isinstance(v, str))
    broken = verdicts.map(lambda v: v is False)
    if not repair:
        broken, repairable = broken | repairable, repairable & False
    fixed = table.copy()
    fixed.loc[repairable, "text"] = verdicts[repairable]
    rows = table[repairable].head(EXAMPLES)
    examples = [
        {"row": int(row), "label": label, "text": _short(before), "repaired": _short(verdicts[i])}
        for i, row, label, before in zip(rows.index, rows["row"], rows["label"], rows["text"], strict=True)
    ]
    report = {
        "repaired": int(repairable.sum()),
        "dropped": int(broken.sum()),
        "examples": examples,
        "dropped_examples": _examples(table[broken]),
    }
    return fixed[~broken], report


def classify_mojibake(text: str) -> str | bool | None:
    """The repaired text if `text` is repairable mojibake, False if it is mojibake that cannot be
    repaired, None if it is not mojibake."""
    if not _MOJIBAKE_TRIPLE.search(text):
        return None
    repaired = repair_cp866(text)
    if repaired is not None:
        return repaired
    upper = sum(ch in _CP866_UPPER for ch in text)
    return False if 3 * len(_MOJIBAKE_TRIPLE.findall(text)) >= 0.8 * upper else None


def repair_cp866(text: str) -> str | None:
    """`text.encode("cp866").decode("utf-8")` when that round-trips and gives mostly Devanagari."""
    try:
        repaired = text.encode("cp866").decode("utf-8")
    except UnicodeError:
        return None
    if repaired.encode("utf-8").decode("cp866") != text or devanagari_share(repaired) < 0.5:
        return None
    return repaired


def devanagari_share(text: str) -> float:
    """Share of the letters and combining marks of `text` that are Devanagari."""
    letters = [ch for ch in text if unicodedata.category(ch)[0] in "LM"]
    if not letters:
        return 0.0
    return sum("\u0900" <= ch <= "\u097f" or "\ua8e0" <= ch <= "\ua8ff" for ch in letters) / len(letters)


def normalize_unicode(table: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """NFC-normalise text and label; strip spaces from both ends and remove zero-width spaces.

    Zero-width *joiners* (U+200C, U+200D) stay: in Devanagari they choose a conjunct's shape.
    """
    nfc_text = table["text"].map(lambda s: unicodedata.normalize("NFC", s))
    stripped_text = nfc_text.str.replace(_ZERO_WIDTH_SPACES, "", regex=True).str.strip(_EDGE_SPACE)
    nfc_label = table["label"].map(lambda s: unicodedata.normalize("NFC", s))
    stripped_label = nfc_label.str.strip(_EDGE_SPACE)
    nfc_changed = (nfc_text != table["text"]) | (nfc_label != table["label"])
    strip_changed = (stripped_text != nfc_text) | (stripped_label != nfc_label)
    out = table.assign(text=stripped_text, label=stripped_label)
    report = {
        "nfc_changed": int(nfc_changed.sum()),
        "stripped": int(strip_changed.sum()),
        "examples": _examples(table[nfc_changed]),
    }
    return out, report


def drop_empty(table: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Drop rows whose text or label is empty."""
    empty_text, empty_label = table["text"] == "", table["label"] == ""
    empty = empty_text | empty_label
    report = {
        "dropped": int(empty.sum()),
        "empty_text": int(empty_text.sum()),
        "empty_label": int(empty_label.sum()),
        "examples": _examples(table[empty]),
    }
    return table[~empty], report


def drop_duplicates(table: pd.DataFrame, drop: bool = True) -> tuple[pd.DataFrame, dict]:
    """Keep the first of rows with the same text and label; with `drop=False` count them, keep all."""
    repeated = table.duplicated(["text", "label"], keep="first")
    report = {
        "repeated": int(repeated.sum()),
        "dropped": int(repeated.sum()) if drop else 0,
        "examples": _examples(table[repeated]),
    }
    return (table[~repeated] if drop else table), report


def drop_conflicting_labels(table: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Drop every row whose text also appears with another label."""
    labels_per_text = table.groupby("text", sort=False)["label"].transform("nunique")
    conflicting = labels_per_text > 1
    examples = [
        {"text": _short(text), "labels": sorted(group["label"]), "rows": [int(r) for r in group["row"]]}
        for text, group in list(table[conflicting].groupby("text", sort=False))[:EXAMPLES]
    ]
    report = {
        "dropped": int(conflicting.sum()),
        "texts": int(table.loc[conflicting, "text"].nunique()),
        "examples": examples,
    }
    return table[~conflicting], report


def drop_overlap(table: pd.DataFrame, test_texts: set[str], drop: bool) -> tuple[pd.DataFrame, dict]:
    """Find rows of `table` whose text is also a test text; drop them when `drop` is set."""
    overlap = table["text"].isin(test_texts)
    per_label = table.loc[overlap, "label"].value_counts().sort_index()
    report = {
        "rows": int(overlap.sum()),
        "dropped": int(overlap.sum()) if drop else 0,
        "dropped_per_label": {str(k): int(v) for k, v in per_label.items()} if drop else {},
        "examples": _examples(table[overlap]),
    }
    return (table[~overlap] if drop else table), report


def drop_labels(table: pd.DataFrame, labels: list[str]) -> tuple[pd.DataFrame, dict]:
    """Remove the rows of the labels the config excludes (data.drop_labels)."""
    excluded = table["label"].isin(labels)
    counts = table.loc[excluded, "label"].value_counts().sort_index()
    return table[~excluded], {
        "dropped": int(excluded.sum()),
        "labels": {str(k): int(v) for k, v in counts.items()},
    }


def _examples(rows: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {"row": int(row), "label": label, "text": _short(text)}
        for row, label, text in zip(
            rows["row"][:EXAMPLES], rows["label"][:EXAMPLES], rows["text"][:EXAMPLES], strict=True
        )
    ]


def _short(text: str, limit: int = 100) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
