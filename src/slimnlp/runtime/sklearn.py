"""The scikit-learn runner: a saved TF-IDF + logistic regression baseline behind the runners' interface.

    from slimnlp.runtime.sklearn import TfidfRunner
    runner = TfidfRunner("runs/x/bench/tfidf")
    scores = runner.run(runner.encode(["भारताने सामना जिंकला"]))

The directory is written by `slimnlp.benchmark.baselines.train_tfidf_baseline`. Nothing is pickled:
the fitted vocabulary, IDF weights and classifier coefficients are JSON + a NumPy .npz, rebuilt here.
`encode` only batches the texts, so featurisation is part of the timed `run`: for TF-IDF that *is*
most of the work, and leaving it out would flatter the baseline.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

SPEC_FILE, ARRAYS_FILE = "tfidf.json", "tfidf.npz"


class BaselineDirError(ValueError):
    """A path is not a saved TF-IDF baseline."""


class TfidfRunner:
    """A saved TF-IDF baseline; `run` returns one score column per label id 0..n-1, so `argmax`
    gives label ids like the transformers' logits."""

    def __init__(self, baseline_dir: str | Path) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.path = Path(baseline_dir)
        spec_file, arrays_file = self.path / SPEC_FILE, self.path / ARRAYS_FILE
        if not spec_file.is_file() or not arrays_file.is_file():
            raise BaselineDirError(
                f"{self.path} is not a TF-IDF baseline (expected {SPEC_FILE} and {ARRAYS_FILE}); "
                "train one with slimnlp.benchmark.baselines.train_tfidf_baseline"
            )
        spec = json.loads(spec_file.read_text(encoding="utf-8"))
        arrays = np.load(arrays_file)
        self.vectorizer = TfidfVectorizer(
            analyzer=spec["analyzer"],
            ngram_range=tuple(spec["ngram_range"]),
            sublinear_tf=spec["sublinear_tf"],
            vocabulary=spec["vocabulary"],
        )
        self.vectorizer.idf_ = arrays["idf"]
        self.coef, self.intercept = arrays["coef"], arrays["intercept"]
        self.classes = spec["classes"]
        self.n_labels = len(spec["id2label"])
        self.spec = {k: v for k, v in spec.items() if k != "vocabulary"}
        self.n_features = len(spec["vocabulary"])

    def encode(self, texts: list[str], pad_to: int | None = None) -> list[str]:
        """The texts themselves: TF-IDF has no padding, and featurising is timed in `run`."""
        return list(texts)

    def run(self, texts: list[str]) -> np.ndarray:
        """Scores (n_texts, n_labels); labels absent from training score -inf."""
        features = self.vectorizer.transform(texts)
        decision = features @ self.coef.T + self.intercept
        if decision.shape[1] == 1:  # binary logistic regression has one column: the positive class
            decision = np.hstack([-decision, decision])
        scores = np.full((len(texts), self.n_labels), -np.inf, dtype=np.float32)
        scores[:, self.classes] = decision
        return scores

    def facts(self, texts: list[str]) -> dict[str, Any]:
        """Parameters (classifier weights; the vocabulary is a lookup table, counted apart) and
        FLOPs per text (2 x non-zero features x classes, averaged over `texts`)."""
        nnz = self.vectorizer.transform(texts[:500]).getnnz(axis=1).mean() if texts else 0.0
        weights = int(self.coef.size + self.intercept.size)
        return {
            "params_total": weights + self.n_features,
            "params_embeddings": self.n_features,  # one IDF weight per n-gram: its "embedding table"
            "params_non_embedding": weights,
            "gflops_per_sequence": 2 * float(nnz) * self.coef.shape[0] / 1e9,
        }
