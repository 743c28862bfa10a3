"""Data the way Hugging Face users hold it: the Hub's folder layouts, configs, revisions and split
mappings (a local hub cache, HF_HUB_OFFLINE), sharded files, and an s3:// prefix of shards."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from slimnlp.config import DataConfig
from slimnlp.data import DataError, prepare_data_files, read_label_map, read_split
from slimnlp.mlops.storage import upload


def rows(n: int, prefix: str = "", labels=("pos", "neg", "neu")) -> pd.DataFrame:
    return pd.DataFrame(
        {"text": [f"{prefix}{label} वाक्य {i}" for label in labels for i in range(n)], "label": [
            label for label in labels for _ in range(n)
        ]}
    )  # fmt: skip


def parquet(path: Path, frame: pd.DataFrame) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, index=False)
    return path


def prepare(tmp_path: Path, **fields) -> dict:
    return prepare_data_files(DataConfig(**fields), tmp_path / "out", progress=False)


def texts(tmp_path: Path, split: str) -> list[str]:
    return read_split(tmp_path / "out", split)[0]


def test_parquet_export_layout_with_a_config_folder(tmp_path: Path) -> None:
    """The Hub's Parquet export: <config>/<split>/0000.parquet (was: "no training file found")."""
    folder = tmp_path / "ds"
    parquet(folder / "default" / "train" / "0000.parquet", rows(10))
    parquet(folder / "default" / "train" / "0001.parquet", rows(10, prefix="second "))
    parquet(folder / "default" / "test" / "0000.parquet", rows(3, prefix="t "))
    parquet(folder / "other" / "train" / "0000.parquet", rows(2, prefix="other "))
    report = prepare(tmp_path, dir=str(folder), config="default")
    assert report["files"]["train"]["files"] == 2  # shards joined
    assert report["files"]["train"]["rows_read"] == 60 and report["test_rows"] == 9
    assert report["sources"]["train"].endswith("default/train/0000.parquet (+1 more shards)")
    all_train = texts(tmp_path, "train") + texts(tmp_path, "dev")
    assert "second pos वाक्य 0" in all_train and not any(t.startswith("other") for t in all_train)
    with pytest.raises(DataError, match=r"no config 'nope' \(data.config\); the dataset's folders are"):
        prepare(tmp_path, dir=str(folder), config="nope")


def test_data_folder_shards_are_joined_per_split(tmp_path: Path) -> None:
    """data/train-0000x-of-00002.parquet (was: "several train files")."""
    folder = tmp_path / "ds"
    parquet(folder / "data" / "train-00000-of-00002.parquet", rows(6))
    parquet(folder / "data" / "train-00001-of-00002.parquet", rows(6, prefix="b "))
    parquet(folder / "data" / "validation-00000-of-00001.parquet", rows(2, prefix="v "))
    parquet(folder / "data" / "test-00000-of-00001.parquet", rows(2, prefix="t "))
    report = prepare(tmp_path, dir=str(folder))
    assert (report["train_rows"], report["dev_rows"], report["test_rows"]) == (36, 6, 6)
    assert report["splits"]["dev"]["from"] == "file"
    assert texts(tmp_path, "train")[:1] == ["pos वाक्य 0"] and texts(tmp_path, "train")[18] == "b pos वाक्य 0"


def test_two_unrelated_train_files_are_still_ambiguous(tmp_path: Path) -> None:
    parquet(tmp_path / "ds" / "train_a.parquet", rows(3))
    parquet(tmp_path / "ds" / "train_b.parquet", rows(3))
    with pytest.raises(DataError, match=r"several train files"):
        prepare(tmp_path, dir=str(tmp_path / "ds"))


README = """---
configs:
- config_name: news
  data_files:
  - split: train
    path: news/train-*.parquet
  - split: validation
    path: news/valid.parquet
- config_name: reviews
  default: true
  data_files:
  - split: training
    path: reviews/tr.parquet
  - split: heldout
    path: reviews/ho.parquet
---
# a dataset card
"""


def hub_cache(root: Path) -> Path:
    """A huggingface_hub cache holding dataset owner/marathi at main and at tag v1 (other rows)."""
    repo = root / "datasets--owner--marathi"
    for revision, sha, prefix in (("main", "a" * 40, ""), ("v1", "b" * 40, "v1 ")):
        (repo / "refs").mkdir(parents=True, exist_ok=True)
        (repo / "refs" / revision).write_text(sha)
        snapshot = repo / "snapshots" / sha
        (snapshot / "README.md").parent.mkdir(parents=True, exist_ok=True)
        (snapshot / "README.md").write_text(README)
        parquet(snapshot / "news" / "train-00000-of-00002.parquet", rows(5, prefix=f"{prefix}n0 "))
        parquet(snapshot / "news" / "train-00001-of-00002.parquet", rows(5, prefix=f"{prefix}n1 "))
        parquet(snapshot / "news" / "valid.parquet", rows(2, prefix=f"{prefix}nv "))
        parquet(snapshot / "reviews" / "tr.parquet", rows(8, prefix=f"{prefix}r "))
        parquet(snapshot / "reviews" / "ho.parquet", rows(3, prefix=f"{prefix}rh "))
    return root


@pytest.fixture
def offline_hub(tmp_path: Path, monkeypatch) -> Path:
    """HF_HUB_OFFLINE with a local hub cache: the real huggingface_hub code, no network."""
    from huggingface_hub import constants

    cache = hub_cache(tmp_path / "hub")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    return cache


def test_hub_dataset_with_config_revision_and_split_mapping(tmp_path: Path, offline_hub: Path) -> None:
    report = prepare(
        tmp_path, dir="hf://datasets/owner/marathi", config="reviews", revision="v1",
        splits={"train": "training", "test": "heldout"},
    )  # fmt: skip
    assert report["sources"]["train"] == "hf://datasets/owner/marathi/reviews/tr.parquet"
    assert report["files"]["test"]["rows_read"] == 9
    assert all(t.startswith("v1 r") for t in texts(tmp_path, "train") + texts(tmp_path, "test"))
    assert report["splits"]["dev"]["from"].startswith("held out of train")
    assert read_label_map(tmp_path / "out") == {0: "neg", 1: "neu", 2: "pos"}


def test_hub_dataset_readme_config_and_default_split_names(tmp_path: Path, offline_hub: Path) -> None:
    report = prepare(tmp_path, dir="hf://datasets/owner/marathi", config="news")  # revision: main
    assert report["files"]["train"]["files"] == 2 and report["files"]["train"]["rows_read"] == 30
    assert report["splits"]["dev"]["from"] == "file" and report["dev_rows"] == 6
    assert texts(tmp_path, "dev")[0] == "nv pos वाक्य 0"


def test_hub_errors_name_the_key(tmp_path: Path, offline_hub: Path) -> None:
    with pytest.raises(
        DataError, match=r"no config 'songs' \(data.config\); the dataset's configs are \['news', 'reviews'\]"
    ):
        prepare(tmp_path, dir="hf://datasets/owner/marathi", config="songs")
    with pytest.raises(
        DataError,
        match=r"no split 'validation' \(data.splits.dev\); the dataset's splits are \['heldout', 'training'\]",
    ):
        prepare(
            tmp_path,
            dir="hf://datasets/owner/marathi",
            config="reviews",
            splits={"train": "training", "dev": "validation"},
        )
    with pytest.raises(DataError, match=r"hf://datasets/owner/marathi: cannot download from the hub"):
        prepare(tmp_path, dir="hf://datasets/owner/marathi", revision="v2")  # not cached, offline
    # fmt: skip


def test_shards_under_an_s3_prefix(s3_env, tmp_path: Path) -> None:
    bucket = s3_env.create_bucket("hubdata")
    for name, frame in (
        ("train-00000-of-00002.parquet", rows(4)),
        ("train-00001-of-00002.parquet", rows(4, prefix="b ")),
        ("test-00000-of-00001.parquet", rows(2, prefix="t ")),
    ):
        upload(parquet(tmp_path / "src" / name, frame), f"s3://{bucket}/ds/data/")
    report = prepare(tmp_path, dir=f"s3://{bucket}/ds/")
    assert (
        report["sources"]["train"] == f"s3://{bucket}/ds/data/train-00000-of-00002.parquet (+1 more shards)"
    )
    assert (report["files"]["train"]["rows_read"], report["test_rows"]) == (24, 6)
