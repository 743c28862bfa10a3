"""Classification metrics: the one owner of accuracy, macro-F1 and per-class F1 (training, export,
benchmark and promotion all score with these). Torch-free.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def classification_metrics(
    predictions: list[int] | np.ndarray,
    labels: list[int] | np.ndarray,
    id2label: dict[int, str] | None = None,
) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class precision/recall/F1 ({label name: value}) and the confusion
    matrix (rows: gold, columns: predicted).

    The classes are id2label's ids in order, else the ids present in `labels`; a class that is never
    predicted scores 0 (no warning).
    """
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

    predictions, labels = np.asarray(predictions), np.asarray(labels)
    ids = sorted(id2label) if id2label else sorted(set(labels.tolist()))
    precision, recall, per_class, _ = precision_recall_fscore_support(
        labels, predictions, labels=ids, average=None, zero_division=0
    )
    names = [id2label[i] if id2label else str(i) for i in ids]
    return {
        "accuracy": float(accuracy_score(labels, predictions)),
        "macro_f1": float(f1_score(labels, predictions, labels=ids, average="macro", zero_division=0)),
        "per_class_f1": {n: float(v) for n, v in zip(names, per_class, strict=True)},
        "per_class_precision": {n: float(v) for n, v in zip(names, precision, strict=True)},
        "per_class_recall": {n: float(v) for n, v in zip(names, recall, strict=True)},
        "confusion": confusion_matrix(labels, predictions, labels=ids).tolist(),
    }


def distinct_text_scores(
    texts: list[str], labels: list[int] | np.ndarray, predictions: np.ndarray
) -> dict[str, Any]:
    """Accuracy and macro-F1 with each distinct text counted once; {} when no text repeats.

    A test file kept as published (data.drop_duplicates=false) can repeat a text many times (MahaNews
    SHC repeats some headlines 18x). The plain score weighs those texts by their repeats, so a model
    that memorised them looks better than it generalises: both figures are reported.
    Keys: accuracy_distinct, macro_f1_distinct, distinct_texts.
    """
    first: dict[str, int] = {}
    for i, text in enumerate(texts):
        first.setdefault(text, i)
    if len(first) == len(texts):
        return {}
    keep = sorted(first.values())
    scores = classification_metrics(np.asarray(predictions)[keep], np.asarray(labels)[keep])
    return {
        "accuracy_distinct": scores["accuracy"],
        "macro_f1_distinct": scores["macro_f1"],
        "distinct_texts": len(keep),
    }
