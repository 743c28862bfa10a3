"""Each cleaning rule on crafted rows, including real cp866 mojibake."""

from __future__ import annotations

import unicodedata

import pandas as pd
import pytest

from slimnlp.data.cleaning import (
    classify_mojibake,
    clean_table,
    drop_conflicting_labels,
    drop_duplicates,
    drop_empty,
    drop_header_rows,
    drop_labels,
    drop_overlap,
    fix_mojibake,
    normalize_unicode,
)

STREE = "स्ट्री"
MOJIBAKE = STREE.encode("utf-8").decode("cp866")  # 'рд╕реНрдЯреНрд░реА', as in mahanews-shc


def table(*rows: tuple[str, str]) -> pd.DataFrame:
    return pd.DataFrame(
        {"text": [t for t, _ in rows], "label": [label for _, label in rows], "row": range(1, len(rows) + 1)}
    )


def rows_of(frame: pd.DataFrame) -> list[tuple[str, str]]:
    return list(zip(frame["text"], frame["label"], strict=True))


def test_mojibake_fixture_is_the_real_thing() -> None:
    assert MOJIBAKE == "рд╕реНрдЯреНрд░реА"


def test_header_rows_are_dropped_only_when_both_columns_match() -> None:
    kept, report = drop_header_rows(
        table(("a", "x"), ("Text", "Label"), ("Text", "x"), ("Text", "Label")), "Text", "Label"
    )
    assert rows_of(kept) == [("a", "x"), ("Text", "x")]
    assert report["dropped"] == 2
    assert [e["row"] for e in report["examples"]] == [2, 4]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (MOJIBAKE, STREE),
        (
            "OMG : " + "नमस्कार".encode().decode("cp866") + " !",
            "OMG : नमस्कार !",
        ),  # ASCII survives the round trip
        ("‘पॉल’".encode().decode("cp866"), "‘पॉल’"),  # curly quotes: E2 80 98 -> 'тАШ'
    ],
)
def test_repairable_mojibake_is_repaired(text: str, expected: str) -> None:
    assert classify_mojibake(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        MOJIBAKE[:-1],  # a cut-off byte sequence: cannot decode
        MOJIBAKE + "स",  # mixed with real Devanagari: cannot be encoded back to cp866
    ],
)
def test_broken_mojibake_is_flagged_for_dropping(text: str) -> None:
    assert classify_mojibake(text) is False


@pytest.mark.parametrize("text", ["नमस्कार", "plain ascii", "время и Россия", "редкие вещи", ""])
def test_other_text_is_not_mojibake(text: str) -> None:
    assert classify_mojibake(text) is None


def test_fix_mojibake_repairs_drops_and_reports() -> None:
    kept, report = fix_mojibake(table((MOJIBAKE, "a"), (MOJIBAKE[:-1], "a"), ("नमस्कार", "b")))
    assert rows_of(kept) == [(STREE, "a"), ("नमस्कार", "b")]
    assert (report["repaired"], report["dropped"]) == (1, 1)
    assert report["examples"][0] == {"row": 1, "label": "a", "text": MOJIBAKE, "repaired": STREE}
    assert report["dropped_examples"][0]["row"] == 2


def test_fix_mojibake_without_repair_drops_it_all() -> None:
    kept, report = fix_mojibake(table((MOJIBAKE, "a"), ("नमस्कार", "b")), repair=False)
    assert rows_of(kept) == [("नमस्कार", "b")]
    assert (report["repaired"], report["dropped"]) == (0, 1)


def test_unicode_is_nfc_normalised_and_stripped() -> None:
    decomposed = "शेतकर\u093c\u094dयांना"  # RA + NUKTA, as some keyboards type the Marathi eyelash ra
    composed = "शेतक\u0931\u094dयांना"
    assert unicodedata.normalize("NFC", decomposed) == composed != decomposed
    with_zwj = "क\u094d\u200dष"  # a zero-width joiner chooses the conjunct's shape: it must stay
    kept, report = normalize_unicode(
        table((decomposed, " a "), ("\u200bशब्द\u200b \u00a0", "b"), (with_zwj, "c"))
    )
    assert rows_of(kept) == [(composed, "a"), ("शब्द", "b"), (with_zwj, "c")]
    assert (report["nfc_changed"], report["stripped"]) == (1, 2)


def test_empty_texts_and_labels_are_dropped() -> None:
    kept, report = drop_empty(table(("", "a"), ("ok", ""), ("ok", "a")))
    assert rows_of(kept) == [("ok", "a")]
    assert (report["dropped"], report["empty_text"], report["empty_label"]) == (2, 1, 1)


def test_exact_duplicates_keep_the_first() -> None:
    kept, report = drop_duplicates(table(("x", "a"), ("y", "a"), ("x", "a"), ("x", "b")))
    assert rows_of(kept) == [("x", "a"), ("y", "a"), ("x", "b")]
    assert report["dropped"] == 1 and report["examples"][0]["row"] == 3


def test_duplicates_are_counted_and_kept_when_asked() -> None:
    kept, report = drop_duplicates(table(("x", "a"), ("y", "a"), ("x", "a"), ("x", "a")), drop=False)
    assert rows_of(kept) == [("x", "a"), ("y", "a"), ("x", "a"), ("x", "a")]
    assert (report["repeated"], report["dropped"]) == (2, 0)
    assert [e["row"] for e in report["examples"]] == [3, 4]


def test_conflicting_labels_drop_every_copy() -> None:
    kept, report = drop_conflicting_labels(table(("x", "a"), ("y", "a"), ("x", "b"), ("x", "c")))
    assert rows_of(kept) == [("y", "a")]
    assert (report["dropped"], report["texts"]) == (3, 1)
    assert report["examples"] == [{"text": "x", "labels": ["a", "b", "c"], "rows": [1, 3, 4]}]


@pytest.mark.parametrize(("drop", "expected"), [(True, [("y", "a")]), (False, [("x", "a"), ("y", "a")])])
def test_overlap_is_reported_and_dropped_only_when_asked(drop: bool, expected: list) -> None:
    kept, report = drop_overlap(table(("x", "a"), ("y", "a")), {"x", "z"}, drop)
    assert rows_of(kept) == expected
    assert report["rows"] == 1 and report["dropped"] == (1 if drop else 0)


def test_drop_labels() -> None:
    kept, report = drop_labels(table(("x", "a"), ("y", "b"), ("z", "b")), ["b"])
    assert rows_of(kept) == [("x", "a")]
    assert report == {"dropped": 2, "labels": {"b": 2}}


def test_clean_table_applies_the_rules_in_order() -> None:
    raw = table(
        ("Text", "Label"),  # header
        (MOJIBAKE, "Fashion"),  # repaired, then a duplicate of the next row
        (STREE, "Fashion"),
        (MOJIBAKE[:-2] + "x", "Fashion"),  # broken mojibake
        ("  ", "Auto"),  # empty after stripping
        ("गाडी", "Auto"),
        ("गाडी", "Crime"),  # conflicting
        ("बातमी ", "Auto"),
    )
    kept, report = clean_table(raw, "Text", "Label")
    assert rows_of(kept) == [(STREE, "Fashion"), ("बातमी", "Auto")]
    counts = {rule: r.get("dropped") for rule, r in report.items()}
    assert counts == {
        "header_rows": 1,
        "mojibake": 1,
        "unicode": None,
        "empty": 1,
        "duplicates": 1,
        "conflicting_labels": 2,
    }
    assert report["mojibake"]["repaired"] == 1
