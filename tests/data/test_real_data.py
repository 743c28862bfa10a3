"""prepare-data on the real shared Marathi data (../shared/data beside the checkout; skipped if absent).

The numbers below are what the published files hold, dirt included; if they change, the files did.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from slimnlp.config import DataConfig
from slimnlp.data import DataError, prepare_data_files, read_label_map, read_split


def shc_config(shared_data: Path, **fields) -> DataConfig:
    return DataConfig(
        dir=str(shared_data / "mahanews-shc"),
        train_file="SHC_Valid.csv",
        test_file="SHC_Test.csv",
        text_column="Text",
        label_column="Label",
        **fields,
    )


def test_mahanews_shc_cleaning_counts(shared_data: Path, tmp_path: Path) -> None:
    report = prepare_data_files(shc_config(shared_data, drop_labels=["Manoranjan"]), tmp_path, progress=False)
    per_file = {
        split: (report["files"][split]["rows_read"],)
        + tuple(
            rules[rule][count]
            for rule, count in [
                ("header_rows", "dropped"),
                ("mojibake", "repaired"),
                ("mojibake", "dropped"),
                ("unicode", "nfc_changed"),
                ("empty", "dropped"),
                ("duplicates", "dropped"),
                ("conflicting_labels", "dropped"),
                ("drop_labels", "dropped"),
            ]
        )
        for split, rules in report["cleaning"].items()
    }
    #                      read  header repaired dropped nfc empty dups conflicting Manoranjan
    assert per_file == {
        "train": (2761, 11, 146, 0, 7, 0, 350, 14, 35),
        "test": (2772, 11, 135, 0, 6, 0, 354, 10, 38),
    }
    assert (report["train_test_overlap"], report["dropped_overlap"]) == (32, 32)
    assert (report["train_rows"], report["dev_rows"], report["test_rows"]) == (2087, 232, 2359)
    assert report["num_labels"] == 11 and "Manoranjan" not in read_label_map(tmp_path).values()
    # The repair step's output still has the source's zero-width space; the unicode rule removes it.
    example = report["cleaning"]["train"]["mojibake"]["examples"][0]
    assert example["text"].startswith("OMG : тАЛрдорд╣рд┐рд▓рд╛")
    assert example["repaired"] == "OMG : \u200bमहिलांना आवडतात असे पुरुष !"
    assert (
        "OMG : महिलांना आवडतात असे पुरुष !" in read_split(tmp_path, "train")[0] + read_split(tmp_path, "dev")[0]
    )


def test_mahanews_shc_manoranjan_is_all_test_overlap(shared_data: Path, tmp_path: Path) -> None:
    """Manoranjan is 38 distinct headlines repeated ~10 times, the same 38 in both files."""
    cfg = shc_config(shared_data)
    with pytest.raises(
        DataError,
        match=r"SHC_Valid.csv: too few training examples .* 'Manoranjan' \(0 rows, "
        r"after dropping 35 whose text is also in the test file\)",
    ):
        prepare_data_files(cfg, tmp_path, progress=False)
    kept = prepare_data_files(dataclasses.replace(cfg, drop_test_overlap=False), tmp_path, progress=False)
    assert (kept["train_test_overlap"], kept["dropped_overlap"], kept["num_labels"]) == (67, 0, 12)


def test_mahanews_shc_as_published_keeps_the_repeats(shared_data: Path, tmp_path: Path) -> None:
    """drop_duplicates=false: the test file as published (what reports score), repeats included."""
    cfg = shc_config(shared_data, drop_test_overlap=False, drop_duplicates=False)
    report = prepare_data_files(cfg, tmp_path, progress=False)
    assert (report["dropped_duplicates"], report["repeated_rows"]) == (0, 704)
    # 2772 rows - 11 headers - 10 rows of texts published with two labels
    assert report["test_rows"] == 2751
    test_texts, test_labels = read_split(tmp_path, "test")
    assert len(set(test_texts)) == 2397
    manoranjan = [
        t for t, y in zip(test_texts, test_labels, strict=True) if read_label_map(tmp_path)[y] == "Manoranjan"
    ]
    assert (len(manoranjan), len(set(manoranjan))) == (374, 38)


def test_mahasent_mr_is_found_by_file_name(shared_data: Path, tmp_path: Path) -> None:
    cfg = DataConfig(dir=str(shared_data / "mahasent-mr"), text_column="marathi_sentence")
    report = prepare_data_files(cfg, tmp_path, progress=False)
    assert [Path(uri).name for uri in report["sources"].values()] == [
        "MahaSent_MR_Train.csv",
        "MahaSent_MR_Val.csv",
        "MahaSent_MR_Test.csv",
    ]
    assert (report["train_rows"], report["dev_rows"], report["test_rows"]) == (12000, 1500, 1500)
    assert read_label_map(tmp_path) == {0: "-1", 1: "0", 2: "1"}
