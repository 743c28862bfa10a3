"""The prepared-data directory: reading splits and the label map back, and their errors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from slimnlp.data import DataError, read_label_map, read_split
from slimnlp.data.artifacts import data_hash, load_split, write_label_map, write_split


def write_all(out: Path) -> None:
    label2id = write_label_map(out, ["b", "a"])
    for split in ("train", "dev", "test"):
        write_split(out, split, pd.DataFrame({"text": ["क", "x"], "label": ["b", "a"]}), label2id)


def test_round_trip(tmp_path: Path) -> None:
    write_all(tmp_path)
    assert read_label_map(tmp_path) == {0: "a", 1: "b"}
    assert read_split(tmp_path, "dev") == (["क", "x"], [1, 0])
    ds = load_split(tmp_path, "train")  # memory-mapped from the Arrow file
    assert ds[0] == {"text": "क", "label": 1, "label_name": "b"}
    assert ds.cache_files[0]["filename"] == str(tmp_path / "train.arrow")


def test_a_run_directory_from_before_the_arrow_format_is_read(tmp_path: Path) -> None:
    (tmp_path / "test.jsonl").write_text('{"text": "क", "label": 1, "label_name": "b"}\n', encoding="utf-8")
    assert read_split(tmp_path, "test") == (["क"], [1])
    assert load_split(tmp_path, "test")["text"][:] == ["क"]


def test_hash_changes_with_the_data(tmp_path: Path) -> None:
    write_all(tmp_path)
    before = data_hash(tmp_path)
    assert data_hash(tmp_path) == before
    label2id = write_label_map(tmp_path, ["b", "a"])
    write_split(tmp_path, "test", pd.DataFrame({"text": ["क", "y"], "label": ["b", "a"]}), label2id)
    assert data_hash(tmp_path) != before


def test_missing_files_name_the_path_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"train.arrow does not exist; run `slimnlp prepare-data"):
        read_split(tmp_path, "train")
    with pytest.raises(DataError, match=r"label_map.json does not exist"):
        read_label_map(tmp_path)
    with pytest.raises(DataError, match=r"unknown split 'validation'"):
        read_split(tmp_path, "validation")


def test_a_corrupt_line_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "test.jsonl").write_text('{"text": "x", "label": 0}\n{"text": "y"}\n')
    with pytest.raises(DataError, match=r"test.jsonl line 2: expected a JSON object with 'text'"):
        read_split(tmp_path, "test")
