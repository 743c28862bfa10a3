"""Splits, subsets and label checks on clean text/label tables.

    rest, test = split_off(train, fraction=0.2, seed=13, split="test", source="SHC_Valid.csv")
    train = stratified_subset(train, max_rows=800, seed=13, key="data.max_train_rows")

Splits are stratified by label so every split keeps the label proportions: the rows scikit-learn's
`train_test_split(stratify=...)` draws, drawn on label codes in numpy (a few bytes a row, not a Python
integer per row). Rows keep their file order inside each split.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from slimnlp.data import spill
from slimnlp.data.errors import DataError
from slimnlp.data.labels import near_spellings, value_counts
from slimnlp.data.spill import Disk


def check_min_examples(
    train: pd.DataFrame | pd.Series,
    min_examples: int,
    source: str,
    labels: set[str] | None = None,
    overlap_dropped: dict[str, int] | None = None,
) -> None:
    """Stop when a label has fewer than `min_examples` training rows (data.min_examples_per_label).
    `train`: the training table, or its label counts.

    `labels` are all labels the training file had (some may have no rows left) and
    `overlap_dropped` how many rows of each were removed because the test file has the same text.
    """
    counts = value_counts(train)
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
    table: pd.DataFrame | pd.Series, known: set[str], split: str, source: str, train_source: str
) -> None:
    """Stop when a dev/test label never appears in training (the model could never predict it).
    `table`: the split's table, or its label counts."""
    counts = value_counts(table)
    unknown = sorted(set(counts.index[counts > 0]) - known)
    if not unknown:
        return
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
    codes, names = pd.factorize(table["label"], sort=True)
    held = holdout_mask(codes, np.asarray(names, dtype=object), fraction, seed, split, source)
    return table.iloc[np.flatnonzero(~held)], table.iloc[np.flatnonzero(held)]


def holdout_mask(
    codes: np.ndarray,
    names: np.ndarray,
    fraction: float,
    seed: int,
    split: str,
    source: str,
    disk: Disk | None = None,
) -> np.ndarray:
    """Which rows (label codes `codes`, label `names[code]`) a stratified `fraction` holds out as
    `split`: a boolean mask (a `disk` array when given), at least one row per label."""
    counts = spill.bincount(codes, len(names))
    present = np.flatnonzero(counts)
    held_rows = max(math.ceil(fraction * len(codes)), len(present))
    try:
        return stratified_holdout(codes, held_rows, seed, disk)
    except ValueError as err:
        rarest = present[np.argmin(counts[present])]
        raise DataError(
            f"{source}: cannot hold out a stratified {split} split ({fraction:g} of {len(codes)} rows, "
            f"{len(present)} labels; scikit-learn says: {err}). The rarest label is {names[rarest]!r} with "
            f"{counts[rarest]} rows. Give a data.{split}_file, add examples of rare labels, or raise "
            "data.min_examples_per_label to catch this earlier"
        ) from None


def stratified_holdout(codes: np.ndarray, held_rows: int, seed: int, disk: Disk | None = None) -> np.ndarray:
    """The rows `train_test_split(..., test_size=held_rows, stratify=codes, random_state=seed)`
    holds out, as a boolean mask: scikit-learn's StratifiedShuffleSplit with the same draws from the
    same random state, so the same rows. It holds no Python integer per row (scikit-learn's lists:
    ~40 bytes a row); with a `disk`, a label's row positions and their permutation are disk arrays
    (spill.py), so memory does not grow with the rows. `codes` are non-negative integer label codes
    in the order of the sorted labels."""
    from sklearn.model_selection._split import _approximate_mode, _validate_shuffle_split
    from sklearn.utils import check_random_state

    disk = disk or Disk(None)
    n_train, n_test = _validate_shuffle_split(len(codes), held_rows, None, default_test_size=0.25)
    all_counts = spill.bincount(codes)
    classes = np.flatnonzero(all_counts)
    class_counts = all_counts[classes]
    if class_counts.min() < 2:
        raise ValueError(
            "The least populated classes in y have only 1 member, which is too few. The minimum "
            f"number of groups for any class cannot be less than 2. Classes with too few members are: "
            f"{classes[class_counts < 2].tolist()}"
        )
    for name, size in (("train_size", n_train), ("test_size", n_test)):
        if size < len(classes):
            raise ValueError(
                f"The {name} = {size} should be greater or equal to the number of classes = {len(classes)}"
            )
    rng = check_random_state(seed)
    n_i = _approximate_mode(class_counts, n_train, rng)
    t_i = _approximate_mode(class_counts - n_i, n_test, rng)
    held = disk.array(len(codes), bool)
    for i, code in enumerate(classes):
        rows = disk.compress(
            None, spill.isin(codes, [code], disk.array(len(codes), bool))
        )  # this label's rows in file order
        order = disk.arange(class_counts[i])
        rng.shuffle(order)  # rng.permutation(class_counts[i]), in place: the same draws
        for part in spill.chunks(int(t_i[i])):
            held[rows[order[n_i[i] + part.start : n_i[i] + part.stop]]] = True
    return held


def stratified_subset(table: pd.DataFrame, max_rows: int | None, seed: int, key: str) -> pd.DataFrame:
    """At most `max_rows` rows with the label proportions of `table` (at least one row per label)."""
    if max_rows is None or len(table) <= max_rows:
        return table
    codes, names = pd.factorize(table["label"], sort=True)
    return table.iloc[subset_positions(codes, np.asarray(names, dtype=object), max_rows, seed, key)]


def subset_positions(
    codes: np.ndarray, names: np.ndarray, max_rows: int, seed: int, key: str, disk: Disk | None = None
) -> np.ndarray:
    """stratified_subset on label codes: the positions of the rows kept, ascending."""
    disk = disk or Disk(None)
    counts = spill.bincount(codes, len(names))
    present = np.flatnonzero(counts)
    if max_rows < len(present):
        raise DataError(
            f"{key} = {max_rows} is smaller than the {len(present)} labels; raise it to at "
            f"least {len(present)} so every label keeps a row"
        )
    quotas = _allocate(pd.Series(counts[present], index=names[present]), max_rows)
    code_of = {str(names[c]): c for c in present}
    rng = np.random.default_rng(seed)
    keep = []
    for label, quota in quotas.items():
        rows = disk.compress(None, spill.isin(codes, [code_of[label]], disk.array(len(codes), bool)))
        keep.append(rows[rng.choice(len(rows), size=quota, replace=False)])  # = rng.choice(rows, ...)
    return np.sort(np.concatenate(keep))


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
