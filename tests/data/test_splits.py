"""Stratified splits and subsets, and the label checks."""

from __future__ import annotations

import pandas as pd
import pytest

from slimnlp.data.errors import DataError
from slimnlp.data.splits import check_known_labels, check_min_examples, split_off, stratified_subset


def labelled(counts: dict[str, int]) -> pd.DataFrame:
    labels = [label for label, n in counts.items() for _ in range(n)]
    return pd.DataFrame(
        {"text": [f"t{i}" for i in range(len(labels))], "label": labels, "row": range(1, len(labels) + 1)}
    )


def shares(table: pd.DataFrame) -> dict[str, float]:
    return (table["label"].value_counts(normalize=True).round(2)).to_dict()


def test_split_off_keeps_label_proportions_and_file_order() -> None:
    table = labelled({"a": 600, "b": 300, "c": 100})
    rest, test = split_off(table, 0.2, seed=13, split="test", source="f.csv")
    assert (len(rest), len(test)) == (800, 200)
    assert shares(test) == shares(rest) == {"a": 0.6, "b": 0.3, "c": 0.1}
    assert list(test["row"]) == sorted(test["row"]) and set(rest["text"]).isdisjoint(test["text"])


def test_split_off_is_seeded() -> None:
    table = labelled({"a": 50, "b": 50})
    assert list(split_off(table, 0.2, 1, "test", "f")[1]["text"]) == list(
        split_off(table, 0.2, 1, "test", "f")[1]["text"]
    )
    assert list(split_off(table, 0.2, 1, "test", "f")[1]["text"]) != list(
        split_off(table, 0.2, 2, "test", "f")[1]["text"]
    )


def test_split_off_a_label_with_one_row_names_it() -> None:
    with pytest.raises(
        DataError, match=r"f.csv: cannot hold out a stratified dev split .* 'rare' with 1 rows"
    ):
        split_off(labelled({"a": 20, "rare": 1}), 0.1, 13, "dev", "f.csv")


def test_subset_is_stratified_and_keeps_every_label() -> None:
    table = labelled({"a": 700, "b": 290, "c": 10})
    subset = stratified_subset(table, 100, seed=13, key="data.max_train_rows")
    assert len(subset) == 100
    assert subset["label"].value_counts().to_dict() == {"a": 70, "b": 29, "c": 1}
    tiny = stratified_subset(labelled({"a": 998, "b": 1, "c": 1}), 10, seed=13, key="k")
    assert tiny["label"].value_counts().to_dict() == {"a": 8, "b": 1, "c": 1}
    assert (
        stratified_subset(table, None, 13, "k") is table and stratified_subset(table, 5000, 13, "k") is table
    )


def test_subset_smaller_than_the_label_count() -> None:
    with pytest.raises(DataError, match=r"data.max_test_rows = 2 is smaller than the 3 labels"):
        stratified_subset(labelled({"a": 5, "b": 5, "c": 5}), 2, 13, "data.max_test_rows")


def test_min_examples_names_the_label_and_the_file() -> None:
    check_min_examples(labelled({"a": 2, "b": 2}), 2, "train.csv")
    with pytest.raises(DataError) as err:
        check_min_examples(labelled({"a": 5, "lonely": 1}), 2, "s3://b/train.csv")
    message = str(err.value)
    assert message.startswith("s3://b/train.csv: too few training examples")
    assert "'lonely' (1 row)" in message and "data.min_examples_per_label" in message


def test_min_examples_counts_labels_emptied_by_the_overlap_rule() -> None:
    with pytest.raises(
        DataError,
        match=r"'gone' \(0 rows, after dropping 7 whose text is also in the test file\)"
        r".*data.drop_labels.*data.drop_test_overlap to false",
    ):
        check_min_examples(
            labelled({"a": 5}), 2, "train.csv", labels={"a", "gone"}, overlap_dropped={"gone": 7}
        )


def test_unknown_test_labels_name_split_file_and_label() -> None:
    check_known_labels(labelled({"a": 1}), {"a", "b"}, "test", "test.csv", "train.csv")
    with pytest.raises(DataError, match=r"test.csv: the test split has label\(s\) \['z'\] .*\(train.csv\)"):
        check_known_labels(labelled({"a": 1, "z": 1}), {"a"}, "test", "test.csv", "train.csv")


def test_tiny_tables_hold_out_one_row_per_label() -> None:
    rest, dev = split_off(labelled({"a": 4, "b": 4, "c": 2}), 0.1, 13, "dev", "f.csv")
    assert dev["label"].value_counts().to_dict() == {"a": 1, "b": 1, "c": 1} and len(rest) == 7


@pytest.mark.parametrize("seed", [0, 13, 99])
def test_stratified_holdout_holds_out_the_rows_scikit_learn_does(seed: int) -> None:
    """The numpy hold-out draws what train_test_split(stratify=...) draws (so prepared data stays
    bit-identical), including tied label counts, without a Python integer per row."""
    import numpy as np
    from sklearn.model_selection import train_test_split

    from slimnlp.data.splits import stratified_holdout

    rng = np.random.default_rng(seed)
    for counts in ([600, 300, 100], [50, 50, 50, 50], [997, 2, 2], [5, 7, 5, 7, 5]):
        codes = rng.permutation(np.repeat(np.arange(len(counts)), counts))
        for held_rows in (len(counts), int(0.2 * len(codes)) + 1, int(0.5 * len(codes))):
            _, expected = train_test_split(
                np.arange(len(codes)), test_size=held_rows, stratify=codes, random_state=seed
            )
            held = stratified_holdout(codes, held_rows, seed)
            assert held.dtype == bool and held.sum() == held_rows
            assert np.flatnonzero(held).tolist() == sorted(expected.tolist()), (counts, held_rows)
    with pytest.raises(ValueError, match="least populated classes"):
        stratified_holdout(np.array([0, 0, 0, 1]), 2, seed)
