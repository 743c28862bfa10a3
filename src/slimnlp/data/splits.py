"""Splits, subsets and label checks on clean text/label tables.

    rest, test = split_off(train, fraction=0.2, seed=13, split="test", source="SHC_Valid.csv")
    train = stratified_subset(train, max_rows=800, seed=13, key="data.max_train_rows")

Splits are stratified by label (scikit-learn) so every split keeps the label proportions; rows
keep their file order inside each split.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from slimnlp.data.errors import DataError


def check_min_examples(
    train: pd.DataFrame,
    min_examples: int,
    source: str,
    labels: set[str] | None = None,
    overlap_dropped: dict[str, int] | None = None,
) -> None:
    """Stop when a label has fewer than `min_examples` training rows (data.min_examples_per_label).

    `labels` are all labels the training file had (some may have no rows left) and
    `overlap_dropped` how many rows of each were removed because the test file has the same text.
    """
    counts = train["label"].value_counts()
    counts = counts.reindex(sorted(set(counts.index) | (labels or set())), fill_value=0)
    rare = counts[counts < min_examples]
    if not len(rare):
        return
    overlap_dropped = overlap_dropped or {}
    listed = "; ".join(_rare_label(label, int(n), overlap_dropped.get(label, 0)) for label, n in rare.items())
    advice = "add examples of it, remove its rows from the file, list it in data.drop_labels"
    if any(overlap_dropped.get(label, 0) for label in rare.index):
        advice += ", set data.drop_test_overlap to false (the test score then flatters the model)"
    raise DataError(
        f"{source}: too few training examples (after cleaning) for label {listed}; "
        f"data.min_examples_per_label is {min_examples}. Fix: {advice}, or lower "
        "data.min_examples_per_label"
    )


def _rare_label(label: str, rows: int, overlap: int) -> str:
    text = f"{label!r} ({rows} row{'' if rows == 1 else 's'}"
    if overlap:
        text += f", after dropping {overlap} whose text is also in the test file"
    return text + ")"


def check_known_labels(
    table: pd.DataFrame, known: set[str], split: str, source: str, train_source: str
) -> None:
    """Stop when a dev/test label never appears in training (the model could never predict it)."""
    from slimnlp.data.labels import near_spellings

    unknown = sorted(set(table["label"]) - known)
    if not unknown:
        return
    counts = table["label"].value_counts()
    listed = f"{unknown} ({', '.join(f'{counts[label]} rows of {label!r}' for label in unknown)})"
    near = near_spellings(unknown, known)
    hint = ""
    if near:
        pairs = ", ".join(f"{label!r} vs training {train!r}" for label, train in near.items())
        hint = (
            f" Some differ from a training label only in case, whitespace or number format ({pairs}): "
            "set data.normalize_labels: true to merge them."
        )
    raise DataError(
        f"{source}: the {split} split has label(s) {listed} that never appear in the training data "
        f"({train_source}).{hint} Otherwise add training examples of them, remove those rows from the "
        f"{split} file, or set data.unseen_labels: drop to drop them (counted in the data report)"
    )


def split_off(
    table: pd.DataFrame, fraction: float, seed: int, split: str, source: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hold out a stratified `fraction` of `table` as `split`; returns (rest, held_out).

    The held-out part gets at least one row per label, so tiny datasets hold out a little more.
    """
    from sklearn.model_selection import train_test_split

    counts = table["label"].value_counts()
    held_rows = max(math.ceil(fraction * len(table)), len(counts))
    try:
        rest, held = train_test_split(
            np.arange(len(table)), test_size=held_rows, stratify=table["label"].to_numpy(), random_state=seed
        )
    except ValueError as err:
        raise DataError(
            f"{source}: cannot hold out a stratified {split} split ({fraction:g} of {len(table)} rows, "
            f"{len(counts)} labels; scikit-learn says: {err}). The rarest label is {counts.idxmin()!r} with "
            f"{counts.min()} rows. Give a data.{split}_file, add examples of rare labels, or raise "
            "data.min_examples_per_label to catch this earlier"
        ) from None
    return table.iloc[np.sort(rest)], table.iloc[np.sort(held)]


def stratified_subset(table: pd.DataFrame, max_rows: int | None, seed: int, key: str) -> pd.DataFrame:
    """At most `max_rows` rows with the label proportions of `table` (at least one row per label)."""
    if max_rows is None or len(table) <= max_rows:
        return table
    counts = table["label"].value_counts().sort_index()
    if max_rows < len(counts):
        raise DataError(
            f"{key} = {max_rows} is smaller than the {len(counts)} labels; raise it to at "
            f"least {len(counts)} so every label keeps a row"
        )
    quotas = _allocate(counts, max_rows)
    rng = np.random.default_rng(seed)
    labels = table["label"].to_numpy()
    keep = [
        rng.choice(np.flatnonzero(labels == label), size=quota, replace=False)
        for label, quota in quotas.items()
    ]
    return table.iloc[np.sort(np.concatenate(keep))]


def _allocate(counts: pd.Series, total: int) -> dict[str, int]:
    """Split `total` over labels in proportion to `counts` (largest remainders), each >= 1."""
    exact = counts * total / counts.sum()
    quotas = np.maximum(np.floor(exact).astype(int), 1).clip(upper=counts)
    order = list((exact - np.floor(exact)).sort_values(ascending=False, kind="stable").index)
    while quotas.sum() != total:
        step = 1 if quotas.sum() < total else -1
        for label in order if step > 0 else reversed(order):
            if (step > 0 and quotas[label] < counts[label]) or (step < 0 and quotas[label] > 1):
                quotas[label] += step
                break
    return {str(label): int(quota) for label, quota in quotas.items()}


def label_counts(table: pd.DataFrame) -> dict[str, int]:
    return {str(label): int(n) for label, n in table["label"].value_counts().sort_index().items()}
