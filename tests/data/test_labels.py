"""Label spellings (case, whitespace, number format), unseen dev/test labels, numeric label maps."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from slimnlp.config import ConfigError, DataConfig, load_config
from slimnlp.data import DataError, prepare_data_files, read_label_map, read_split
from slimnlp.data.labels import label_key, sort_labels
from tests.data.test_prepare import topic_rows, write_csv


def prepare(tmp_path: Path, **fields) -> dict:
    return prepare_data_files(DataConfig(**fields), tmp_path / "out", progress=False)


def case_files(tmp_path: Path) -> tuple[Path, Path]:
    """`Respect` in train (10 rows, and 2 as ` respect `), `respect` in dev."""
    train = topic_rows(10, ("Respect", "Other")) + [("आदर एक", " respect "), ("आदर दोन", "respect")]
    dev = [(f"dev आदर {i}", "respect") for i in range(3)] + [(f"dev इतर {i}", "Other") for i in range(3)]
    return write_csv(tmp_path / "train.csv", train), write_csv(tmp_path / "dev.csv", dev)


def test_labels_differing_only_in_case_stop_with_an_error_naming_the_option(tmp_path: Path) -> None:
    train, dev = case_files(tmp_path)
    with pytest.raises(DataError) as err:
        prepare(tmp_path, train_file=str(train), dev_file=str(dev))
    message = str(err.value)
    assert "differ only in case, whitespace or number format" in message
    assert "'Respect'" in message and "'respect'" in message and "data.normalize_labels: true" in message
    assert "train.csv" in message and "dev.csv" in message


def test_normalize_labels_merges_into_the_most_frequent_spelling(tmp_path: Path) -> None:
    train, dev = case_files(tmp_path)
    report = prepare(tmp_path, train_file=str(train), dev_file=str(dev), normalize_labels=True)
    assert report["labels"] == ["Other", "Respect"]
    assert report["labels_normalized"]["merged"] == {"Respect": {"Respect": 10, "respect": 5}}
    # ' respect ' is stripped by the reader's cleaning too, but the rows it changed are counted once here
    assert report["normalized_label_rows"] == 2 + 3
    texts, labels = read_split(tmp_path / "out", "dev")
    id2label = read_label_map(tmp_path / "out")
    assert {id2label[i] for i in labels} == {"Respect", "Other"} and len(texts) == 6
    # the count per class is the merged one: 10 + 2 training rows of Respect, minus those held out as test
    assert sum(report["splits"][s]["label_counts"].get("Respect", 0) for s in ("train", "test")) == 12


def test_drop_labels_may_name_any_spelling_once_normalised(tmp_path: Path) -> None:
    train, dev = case_files(tmp_path)
    rows = topic_rows(10, ("a", "b"))
    write_csv(tmp_path / "train.csv", rows + pd.read_csv(train).values.tolist())
    report = prepare(
        tmp_path, train_file=str(train), dev_file=str(dev), normalize_labels=True, drop_labels=["other"]
    )
    assert report["labels"] == ["Respect", "a", "b"] and report["dropped_by_drop_labels"] == 10 + 3


@pytest.mark.parametrize("unseen", ["error", "drop"])
def test_unseen_dev_and_test_labels(tmp_path: Path, unseen: str) -> None:
    train = write_csv(tmp_path / "train.csv", topic_rows(8, ("a", "b")))
    dev = write_csv(tmp_path / "dev.csv", topic_rows(3, ("a", "b", "z"), prefix="dev "))
    test = write_csv(
        tmp_path / "test.csv", topic_rows(3, ("a", "b"), prefix="t ") + topic_rows(2, ("y",), "t ")
    )
    files = {"train_file": str(train), "dev_file": str(dev), "test_file": str(test)}
    if unseen == "error":
        with pytest.raises(
            DataError, match=r"dev.csv: the dev split has label\(s\) \['z'\] \(3 rows of 'z'\)"
        ):
            prepare(tmp_path, **files)
        with pytest.raises(DataError, match="data.unseen_labels: drop"):
            prepare(tmp_path, **files)
        return
    report = prepare(tmp_path, **files, unseen_labels="drop")
    assert report["dropped_unseen_labels"] == 3 + 2
    assert report["unseen_labels"] == {"dev": {"z": 3}, "test": {"y": 2}}
    assert (report["dev_rows"], report["test_rows"]) == (6, 6)
    assert report["splits"]["dev"]["label_counts"] == {"a": 3, "b": 3}
    assert json.loads((tmp_path / "out" / "data_report.json").read_text())["dropped_unseen_labels"] == 5


def test_an_unseen_label_that_differs_only_in_case_points_at_normalize_labels(tmp_path: Path) -> None:
    train = write_csv(tmp_path / "train.csv", topic_rows(8, ("Sport", "Politics")))
    test = write_csv(tmp_path / "test.csv", topic_rows(3, ("sport", "Politics"), prefix="t "))
    # Spell-checking runs across files first: the message names both spellings and the option.
    with pytest.raises(DataError, match=r"'Sport' .* vs .*'sport'.*data.normalize_labels: true"):
        prepare(tmp_path, train_file=str(train), test_file=str(test))


def test_numeric_labels_keep_a_readable_label_map_in_numeric_order(tmp_path: Path) -> None:
    rows = topic_rows(6, ("-1.0", "0.0", "1.0", "10.0", "2.0"))
    report = prepare(tmp_path, train_file=str(write_csv(tmp_path / "t.csv", rows)), normalize_labels=True)
    assert report["labels"] == ["-1.0", "0.0", "1.0", "2.0", "10.0"]
    assert read_label_map(tmp_path / "out") == {0: "-1.0", 1: "0.0", 2: "1.0", 3: "2.0", 4: "10.0"}
    # "1" in one file and "1.0" in another are one label, spelled as most rows spell it
    train = write_csv(tmp_path / "train.csv", topic_rows(6, ("-1.0", "0.0", "1.0")))
    test = write_csv(tmp_path / "test.csv", topic_rows(2, ("-1", "0", "1"), prefix="t "))
    with pytest.raises(DataError, match="number format"):
        prepare(tmp_path, train_file=str(train), test_file=str(test))
    report = prepare(tmp_path, train_file=str(train), test_file=str(test), normalize_labels=True)
    assert report["labels"] == ["-1.0", "0.0", "1.0"] and report["test_rows"] == 6


def test_label_keys_and_sorting() -> None:
    assert label_key(" Sci  Tech ") == label_key("sci tech") == "sci tech"
    assert label_key("1") == label_key("1.0") == label_key("+1") != label_key("-1")
    assert label_key("NaN") == "nan" and label_key("ß") == label_key("SS")  # casefold, not lower
    assert sort_labels(["b", "a", "10"]) == ["10", "a", "b"]
    assert sort_labels(["10", "2", "-1"]) == ["-1", "2", "10"]


def test_the_options_are_checked_at_load_time() -> None:
    with pytest.raises(ConfigError, match="data.unseen_labels must be 'error' or 'drop', got 'skip'"):
        load_config(overrides=["data.unseen_labels=skip"])
    assert load_config(overrides=["data.normalize_labels=true"]).data.normalize_labels is True
