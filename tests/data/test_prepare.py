"""prepare_data_files end to end: the sample, crafted files, S3 and HTTP sources, bad inputs."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from slimnlp.config import DataConfig
from slimnlp.data import DataError, prepare_data_files, read_label_map, read_split
from slimnlp.mlops.storage import upload

METRICS = [
    "rows_read",
    "train_rows",
    "dev_rows",
    "test_rows",
    "num_labels",
    "dropped_header_rows",
    "repaired_mojibake",
    "dropped_mojibake",
    "normalized_nfc",
    "stripped_whitespace",
    "dropped_empty",
    "dropped_duplicates",
    "dropped_conflicting",
    "dropped_by_drop_labels",
    "train_test_overlap",
    "dev_test_overlap",
    "train_dev_overlap",
    "dropped_overlap",
    "dropped_by_row_limits",
]
MOJIBAKE = "स्ट्री".encode().decode("cp866")


def write_csv(path: Path, rows: list[tuple[str, str]], columns=("text", "label")) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows, columns=list(columns)).to_csv(path, index=False)
    return path


def topic_rows(n_per_label: int, labels=("a", "b", "c"), prefix: str = "") -> list[tuple[str, str]]:
    return [(f"{prefix}{label} बातमी {i}", label) for label in labels for i in range(n_per_label)]


def prepare(tmp_path: Path, **fields) -> dict:
    return prepare_data_files(DataConfig(**fields), tmp_path / "out", progress=False)


def test_the_shipped_sample(tmp_path: Path) -> None:
    report = prepare_data_files(DataConfig(), tmp_path / "out", progress=False)
    assert report["rows_read"] >= 320 and report["num_labels"] == 8
    assert report["train_rows"] + report["dev_rows"] + report["test_rows"] == report["rows_read"]
    assert report["train_rows"] >= 240 - 1 and report["test_rows"] >= 0.19 * report["rows_read"]
    for metric in METRICS:
        assert isinstance(report[metric], int), metric
    assert report["dropped_duplicates"] == report["dropped_empty"] == report["dropped_mojibake"] == 0
    id2label = read_label_map(tmp_path / "out")
    assert list(id2label.values()) == sorted(id2label.values())
    texts, labels = read_split(tmp_path / "out", "train")
    assert len(texts) == report["train_rows"] and set(labels) == set(id2label)
    on_disk = json.loads((tmp_path / "out" / "data_report.json").read_text(encoding="utf-8"))
    assert on_disk == report
    assert len(report["data_sha256"]) == 64


def test_the_sample_csv_itself_is_clean_and_balanced() -> None:
    from importlib import resources

    path = resources.files("slimnlp.data").joinpath("sample/marathi_topics.csv")
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert list(table.columns) == ["text", "label"] and len(table) >= 320
    counts = table["label"].value_counts()
    assert len(counts) >= 6 and counts.max() - counts.min() <= 4
    assert not table["text"].duplicated().any()


def test_same_config_same_data_hash(tmp_path: Path) -> None:
    first = prepare_data_files(DataConfig(), tmp_path / "a", progress=False)
    second = prepare_data_files(DataConfig(), tmp_path / "b", progress=False)
    assert first["data_sha256"] == second["data_sha256"]
    assert (
        prepare_data_files(DataConfig(seed=1), tmp_path / "c", progress=False)["data_sha256"]
        != first["data_sha256"]
    )


def test_missing_splits_are_held_out_stratified(tmp_path: Path) -> None:
    rows = topic_rows(60, ("a",)) + topic_rows(30, ("b",)) + topic_rows(10, ("c",))
    report = prepare(tmp_path, train_file=str(write_csv(tmp_path / "all.csv", rows)))
    assert (report["train_rows"], report["dev_rows"], report["test_rows"]) == (72, 8, 20)
    assert report["splits"]["test"]["label_counts"] == {"a": 12, "b": 6, "c": 2}
    assert report["splits"]["test"]["from"] == "held out of train (test_fraction=0.2)"


@pytest.mark.parametrize("drop", [True, False])
def test_train_test_overlap_is_reported_and_dropped_by_config(tmp_path: Path, drop: bool) -> None:
    train = topic_rows(10) + [("सामायिक बातमी", "a"), ("दुसरी सामायिक", "b")]
    test = topic_rows(3, prefix="test ") + [("सामायिक बातमी", "a"), ("दुसरी सामायिक", "b")]
    report = prepare(
        tmp_path,
        train_file=str(write_csv(tmp_path / "train.csv", train)),
        test_file=str(write_csv(tmp_path / "test.csv", test)),
        drop_test_overlap=drop,
    )
    assert report["train_test_overlap"] == 2 and report["dropped_overlap"] == (2 if drop else 0)
    texts, _ = read_split(tmp_path / "out", "train")
    dev_texts, _ = read_split(tmp_path / "out", "dev")
    shared = {"सामायिक बातमी", "दुसरी सामायिक"} & set(texts + dev_texts)
    assert shared == (set() if drop else {"सामायिक बातमी", "दुसरी सामायिक"})
    assert report["test_rows"] == 11


def test_cleaning_counts_reach_the_report(tmp_path: Path) -> None:
    rows = topic_rows(5) + [
        ("text", "label"),
        (MOJIBAKE, "a"),
        ("", "b"),
        ("a बातमी 0", "a"),
        ("वाद", "a"),
        ("वाद", "b"),
    ]
    report = prepare(
        tmp_path, train_file=str(write_csv(tmp_path / "t.csv", rows)), test_fraction=0.2, dev_fraction=0.2
    )
    got = {
        k: report[k]
        for k in (
            "dropped_header_rows",
            "repaired_mojibake",
            "dropped_empty",
            "dropped_duplicates",
            "dropped_conflicting",
        )
    }
    assert got == {
        "dropped_header_rows": 1,
        "repaired_mojibake": 1,
        "dropped_empty": 1,
        "dropped_duplicates": 1,
        "dropped_conflicting": 2,
    }
    assert report["cleaning"]["train"]["header_rows"]["examples"][0]["row"] == 16


@pytest.mark.parametrize("fmt", ["tsv", "jsonl", "parquet"])
def test_other_formats_and_column_names(tmp_path: Path, fmt: str) -> None:
    frame = pd.DataFrame(topic_rows(10), columns=["sentence", "sentiment"])
    path = tmp_path / f"train.{fmt}"
    {
        "tsv": lambda: frame.to_csv(path, sep="\t", index=False),
        "jsonl": lambda: frame.to_json(path, orient="records", lines=True, force_ascii=False),
        "parquet": lambda: frame.to_parquet(path),
    }[fmt]()
    report = prepare(tmp_path, dir=str(tmp_path), text_column="sentence", label_column="sentiment")
    assert report["files"]["train"]["format"] == fmt and report["rows_read"] == 30


def test_row_limits_keep_stratified_subsets(tmp_path: Path) -> None:
    rows = topic_rows(40, ("a",)) + topic_rows(20, ("b",))
    report = prepare(
        tmp_path,
        train_file=str(write_csv(tmp_path / "t.csv", rows)),
        max_train_rows=15,
        max_dev_rows=3,
        max_test_rows=6,
    )
    assert (report["train_rows"], report["dev_rows"], report["test_rows"]) == (15, 3, 6)
    assert report["splits"]["train"]["label_counts"] == {"a": 10, "b": 5}
    assert report["dropped_by_row_limits"] == 60 - 24


# --------------------------------------------------------------------------------------------------
# Bad input stops early, naming the file, column or label


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"data.train_file: .*nope.csv does not exist"):
        prepare(tmp_path, dir=str(tmp_path), train_file="nope.csv")
    assert not (tmp_path / "out").exists()


def test_missing_column_in_the_test_file(tmp_path: Path) -> None:
    train = write_csv(tmp_path / "train.csv", topic_rows(5))
    test = write_csv(tmp_path / "test.csv", topic_rows(2), columns=("sentence", "label"))
    with pytest.raises(DataError, match=r"test.csv: no column 'text' \(data.text_column\)"):
        prepare(tmp_path, train_file=str(train), test_file=str(test))
    assert not (tmp_path / "out").exists()


def test_empty_dataset(tmp_path: Path) -> None:
    (tmp_path / "empty.csv").write_text("text,label\n")
    with pytest.raises(DataError, match=r"empty.csv: the file has a header but no data rows"):
        prepare(tmp_path, train_file=str(tmp_path / "empty.csv"))


def test_a_file_that_cleaning_empties(tmp_path: Path) -> None:
    write_csv(tmp_path / "t.csv", [("text", "label"), ("  ", "a")])
    with pytest.raises(
        DataError, match=r"t.csv: no rows left after cleaning \(header_rows: 1 dropped, empty: 1"
    ):
        prepare(tmp_path, train_file=str(tmp_path / "t.csv"))


def test_a_label_with_one_example(tmp_path: Path) -> None:
    rows = topic_rows(10, ("a", "b")) + [("एकच उदाहरण", "lonely")]
    with pytest.raises(DataError, match=r"t.csv: too few training examples .* 'lonely' \(1 row\)"):
        prepare(tmp_path, train_file=str(write_csv(tmp_path / "t.csv", rows)))
    assert not (tmp_path / "out").exists()


def test_a_test_label_unseen_in_training(tmp_path: Path) -> None:
    train = write_csv(tmp_path / "train.csv", topic_rows(5, ("a", "b")))
    test = write_csv(tmp_path / "test.csv", topic_rows(2, ("a", "z"), prefix="test "))
    with pytest.raises(DataError, match=r"test.csv: the test split has label\(s\) \['z'\]"):
        prepare(tmp_path, train_file=str(train), test_file=str(test))


def test_drop_labels_with_a_typo(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"data.drop_labels lists \['Manoranjn'\], which no file has"):
        prepare(
            tmp_path, train_file=str(write_csv(tmp_path / "t.csv", topic_rows(5))), drop_labels=["Manoranjn"]
        )


# --------------------------------------------------------------------------------------------------
# Remote sources


def test_csv_from_s3(s3_env, tmp_path: Path) -> None:
    bucket = s3_env.create_bucket("datasets")
    upload(write_csv(tmp_path / "src" / "news_train.csv", topic_rows(10)), f"s3://{bucket}/marathi/")
    upload(
        write_csv(tmp_path / "src" / "news_test.csv", topic_rows(3, prefix="t ")), f"s3://{bucket}/marathi/"
    )
    report = prepare(tmp_path, dir=f"s3://{bucket}/marathi/")
    assert report["sources"] == {
        "train": f"s3://{bucket}/marathi/news_train.csv",
        "test": f"s3://{bucket}/marathi/news_test.csv",
    }
    assert (report["rows_read"], report["test_rows"]) == (39, 9)
    explicit = prepare(tmp_path, train_file=f"s3://{bucket}/marathi/news_train.csv")
    assert explicit["files"]["train"]["rows_read"] == 30


def test_missing_s3_object_is_a_data_error_naming_it(s3_env, tmp_path: Path) -> None:
    bucket = s3_env.create_bucket("datasets")
    with pytest.raises(DataError, match=rf"data.train_file: s3://{bucket}/nope.csv: no such object"):
        prepare(tmp_path, train_file=f"s3://{bucket}/nope.csv")


def test_csv_from_http(http_server, tmp_path: Path) -> None:
    root, base_url = http_server
    write_csv(root / "train.csv", topic_rows(10))
    report = prepare(tmp_path, dir=base_url, train_file="train.csv")
    assert report["sources"]["train"] == f"{base_url}/train.csv" and report["rows_read"] == 30
