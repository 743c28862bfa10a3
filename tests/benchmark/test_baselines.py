"""The TF-IDF + logistic regression baseline: saved without pickle, reloaded to the same scores."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from slimnlp.benchmark.baselines import train_tfidf_baseline
from slimnlp.runtime.sklearn import ARRAYS_FILE, SPEC_FILE, TfidfRunner
from tests.helpers_models import TINY_ID2LABEL, TINY_LABELS, TINY_TEXTS


def test_reloaded_baseline_scores_like_scikit_learn(tmp_path: Path) -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    train_texts, train_labels = TINY_TEXTS[:18], TINY_LABELS[:18]
    out = train_tfidf_baseline(train_texts, train_labels, TINY_ID2LABEL, tmp_path / "tfidf")
    assert sorted(p.name for p in out.iterdir()) == sorted([ARRAYS_FILE, SPEC_FILE])  # JSON + npz, no pickle
    runner = TfidfRunner(out)
    # The same pipeline fitted in memory: the reloaded one must give the same decision values.
    vectorizer = TfidfVectorizer(
        analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True, max_features=200_000
    )
    classifier = LogisticRegression(C=10.0, max_iter=2000, random_state=0)
    classifier.fit(vectorizer.fit_transform(train_texts), train_labels)
    held_out = TINY_TEXTS[18:]
    expected = classifier.decision_function(vectorizer.transform(held_out))
    scores = runner.run(runner.encode(held_out, pad_to=16))
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-6)
    assert (scores.argmax(axis=1) == classifier.predict(vectorizer.transform(held_out))).all()
    assert runner.run(runner.encode(train_texts)).argmax(axis=1).tolist() == train_labels


def test_labels_missing_from_training_never_win_and_binary_works(tmp_path: Path) -> None:
    two = [(t, y) for t, y in zip(TINY_TEXTS, TINY_LABELS, strict=True) if y != 1]
    texts, labels = [t for t, _ in two], [y for _, y in two]
    runner = TfidfRunner(train_tfidf_baseline(texts, labels, TINY_ID2LABEL, tmp_path / "b"))
    scores = runner.run(texts)
    assert scores.shape == (len(texts), 3)
    assert np.isneginf(scores[:, 1]).all()  # "business" had no training rows
    assert scores.argmax(axis=1).tolist() == labels


def test_facts_count_weights_and_flops(tmp_path: Path) -> None:
    runner = TfidfRunner(train_tfidf_baseline(TINY_TEXTS, TINY_LABELS, TINY_ID2LABEL, tmp_path / "f"))
    facts = runner.facts(TINY_TEXTS)
    spec = json.loads((tmp_path / "f" / SPEC_FILE).read_text(encoding="utf-8"))
    n_features = len(spec["vocabulary"])
    assert facts["params_embeddings"] == n_features
    assert facts["params_non_embedding"] == 3 * n_features + 3  # coefficients + intercepts
    nnz = runner.vectorizer.transform(TINY_TEXTS).getnnz(axis=1).mean()
    assert facts["gflops_per_sequence"] == pytest.approx(2 * nnz * 3 / 1e9)


def test_bad_input_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=f"{tmp_path} is not a TF-IDF baseline"):
        TfidfRunner(tmp_path)
    with pytest.raises(ValueError, match="train split is empty"):
        train_tfidf_baseline([], [], TINY_ID2LABEL, tmp_path / "empty")
