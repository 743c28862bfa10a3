"""The cheap reference: TF-IDF over character n-grams + logistic regression (scikit-learn).

    from slimnlp.benchmark.baselines import train_tfidf_baseline, TfidfRunner
    train_tfidf_baseline(train_texts, train_labels, id2label, "runs/x/bench/tfidf")
    runner = TfidfRunner("runs/x/bench/tfidf")
    logits = runner.run(runner.encode(["भारताने सामना जिंकला"]))

It is what a user would try before any transformer, so the benchmark measures it with the same
harness and the report says plainly when it wins. Character n-grams (within word boundaries) need
no tokenizer and no language resources, which suits any script, Devanagari included.

Nothing is pickled: the fitted vocabulary, IDF weights and classifier coefficients are saved as
JSON + a NumPy .npz and rebuilt on load (`tfidf.json`, `tfidf.npz` in the baseline directory).
Unlike the transformers, whose latency excludes tokenisation, the baseline's latency includes its
featurisation: for TF-IDF that *is* most of the work, so leaving it out would flatter it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

SPEC_FILE, ARRAYS_FILE = "tfidf.json", "tfidf.npz"
NGRAM_RANGE = (2, 4)
MAX_FEATURES = 200_000


class BaselineDirError(ValueError):
    """A path is not a saved TF-IDF baseline."""


def train_tfidf_baseline(
    texts: list[str], labels: list[int], id2label: dict[int, str], out_dir: str | Path, seed: int = 0
) -> Path:
    """Fit TF-IDF (char_wb 2-4-grams, sublinear tf) + logistic regression and save it to out_dir.

    Args:
        texts: Training texts.
        labels: Their label ids.
        id2label: Label names by id (saved with the model).
        out_dir: Directory to write (created).
        seed: Random state of the solver.

    Returns:
        out_dir.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    if not texts:
        raise ValueError("the TF-IDF baseline needs training texts; the train split is empty")
    vectorizer = TfidfVectorizer(
        analyzer="char_wb", ngram_range=NGRAM_RANGE, sublinear_tf=True, max_features=MAX_FEATURES
    )
    features = vectorizer.fit_transform(texts)
    classifier = LogisticRegression(C=10.0, max_iter=2000, random_state=seed).fit(features, labels)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    vocabulary = {term: int(index) for term, index in vectorizer.vocabulary_.items()}
    spec = {
        "kind": "tfidf-char-logreg",
        "analyzer": "char_wb",
        "ngram_range": list(NGRAM_RANGE),
        "sublinear_tf": True,
        "classes": [int(c) for c in classifier.classes_],
        "id2label": {str(k): v for k, v in id2label.items()},
        "n_train": len(texts),
        "vocabulary": vocabulary,
    }
    (out / SPEC_FILE).write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
    np.savez(out / ARRAYS_FILE, idf=vectorizer.idf_, coef=classifier.coef_, intercept=classifier.intercept_)
    return out


class TfidfRunner:
    """A saved TF-IDF baseline with the harness's encode/run interface.

    `encode` only batches the texts (featurisation is part of the timed `run`), and `run` returns
    one score column per label id 0..n-1, so `argmax` gives label ids like the transformers'.
    """

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
