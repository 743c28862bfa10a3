"""Resolving DataConfig to one file per split: dir, auto-detection, URIs, hub names, the sample."""

from __future__ import annotations

from pathlib import Path

import pytest

from slimnlp.config import DataConfig
from slimnlp.data.errors import DataError
from slimnlp.data.sources import detect_split_files, resolve_sources


def touch(folder: Path, *names: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_text("text,label\nx,a\n")
    return folder


def resolved(cfg: DataConfig, tmp_path: Path) -> dict[str, str]:
    return {split: s.path.name for split, s in resolve_sources(cfg, tmp_path / "work").items()}


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["only.csv", "README.md"], {"train": "only.csv"}),
        (
            ["MahaSent_MR_Train.csv", "MahaSent_MR_Val.csv", "MahaSent_MR_Test.csv"],
            {"train": "MahaSent_MR_Train.csv", "dev": "MahaSent_MR_Val.csv", "test": "MahaSent_MR_Test.csv"},
        ),
        (["train.jsonl", "dev.jsonl"], {"train": "train.jsonl", "dev": "dev.jsonl"}),
        (
            ["TRAIN.parquet", "validation.parquet", "Test.parquet"],
            {"train": "TRAIN.parquet", "dev": "validation.parquet", "test": "Test.parquet"},
        ),
    ],
)
def test_detect_split_files(tmp_path: Path, names: list[str], expected: dict[str, str]) -> None:
    found = detect_split_files(touch(tmp_path / "d", *names))
    assert {split: path.name for split, path in found.items()} == expected


def test_a_folder_without_a_train_file_says_what_it_found(tmp_path: Path) -> None:
    folder = touch(tmp_path / "shc", "SHC_Valid.csv", "SHC_Test.csv")
    with pytest.raises(DataError) as err:
        detect_split_files(folder)
    message = str(err.value)
    assert (
        "no training file found" in message
        and "SHC_Valid.csv" in message
        and "set data.train_file" in message
    )


def test_two_train_files_are_ambiguous(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"several train files .* set data.train_file"):
        detect_split_files(touch(tmp_path / "d", "train_a.csv", "train_b.csv"))


def test_an_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no data files"):
        detect_split_files(touch(tmp_path / "d", "notes.txt"))


def test_relative_files_resolve_against_dir(tmp_path: Path) -> None:
    folder = touch(tmp_path / "shc", "SHC_Valid.csv", "SHC_Test.csv")
    cfg = DataConfig(dir=str(folder), train_file="SHC_Valid.csv", test_file="SHC_Test.csv")
    sources = resolve_sources(cfg, tmp_path / "work")
    assert {split: s.path for split, s in sources.items()} == {
        "train": folder / "SHC_Valid.csv",
        "test": folder / "SHC_Test.csv",
    }
    assert sources["train"].uri == str(folder / "SHC_Valid.csv")


def test_dir_autodetects_and_explicit_files_win(tmp_path: Path) -> None:
    folder = touch(tmp_path / "d", "x_train.csv", "x_val.csv", "x_test.csv")
    other = touch(tmp_path / "elsewhere", "held_out.tsv") / "held_out.tsv"
    cfg = DataConfig(dir=str(folder), test_file=str(other))
    assert resolved(cfg, tmp_path) == {"train": "x_train.csv", "dev": "x_val.csv", "test": "held_out.tsv"}


def test_missing_file_names_the_key_and_the_path(tmp_path: Path) -> None:
    cfg = DataConfig(dir=str(tmp_path), train_file="nope.csv")
    with pytest.raises(DataError, match=r"data.train_file: .*nope.csv does not exist"):
        resolve_sources(cfg, tmp_path / "work")
    with pytest.raises(DataError, match=r"data.dir: .*missing-dir does not exist"):
        resolve_sources(DataConfig(dir=str(tmp_path / "missing-dir")), tmp_path / "work")


def test_a_split_file_that_is_a_folder(tmp_path: Path) -> None:
    touch(tmp_path / "d", "train.csv")
    touch(tmp_path / "d" / "tests", "a.csv")
    cfg = DataConfig(train_file=str(tmp_path / "d" / "train.csv"), test_file=str(tmp_path / "d" / "tests"))
    with pytest.raises(DataError, match=r"tests is a folder; data.test_file must name one data file"):
        resolve_sources(cfg, tmp_path / "work")


def test_dev_file_without_train_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="data.dev_file is set but data.train_file and data.dir are not"):
        resolve_sources(DataConfig(dev_file="dev.csv"), tmp_path)


def test_no_data_configured_means_the_shipped_sample(tmp_path: Path) -> None:
    sources = resolve_sources(DataConfig(text_column="ignored"), tmp_path)
    assert list(sources) == ["train"]
    sample = sources["train"]
    assert sample.uri == "package:slimnlp.data/sample/marathi_topics.csv"
    assert (sample.text_column, sample.label_column, sample.fmt) == ("text", "label", "csv")
    assert sample.path.read_text(encoding="utf-8").startswith("text,label\n")


@pytest.mark.parametrize(
    "name",
    [
        "hf://datasets/l3cube-pune/marathi-news",
        "hub:l3cube-pune/marathi-news",
        "hf://datasets/l3cube-pune/marathi-news/train.csv",
    ],
)
def test_hub_names_fail_with_a_clear_message_when_the_hub_is_unreachable(tmp_path, monkeypatch, name) -> None:
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there: fails at once
    with pytest.raises(DataError) as err:
        resolve_sources(DataConfig(train_file=name), tmp_path)
    message = str(err.value)
    assert message.startswith(f"{name}: cannot download from the hub")
    assert "local path or an s3:// URI" in message


def test_a_malformed_hub_name(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="looks like hf://datasets/owner/name"):
        resolve_sources(DataConfig(train_file="hub:only-owner"), tmp_path)
