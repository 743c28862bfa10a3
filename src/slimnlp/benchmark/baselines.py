"""The cheap reference: TF-IDF over character n-grams + logistic regression (scikit-learn).

    from slimnlp.benchmark.baselines import train_tfidf_baseline
    from slimnlp.runtime.sklearn import TfidfRunner
    train_tfidf_baseline(train_texts, train_labels, id2label, "runs/x/bench/tfidf")
    runner = TfidfRunner("runs/x/bench/tfidf")
    logits = runner.run(runner.encode(["भारताने सामना जिंकला"]))

It is what a user would try before any transformer, so the benchmark measures it with the same
harness and the report says plainly when it wins. Character n-grams (within word boundaries) need
no tokenizer and no language resources, which suits any script, Devanagari included.

Nothing is pickled: the fitted vocabulary, IDF weights and classifier coefficients are saved as
JSON + a NumPy .npz (`tfidf.json`, `tfidf.npz` in the baseline directory) and rebuilt on load by
`slimnlp.runtime.sklearn.TfidfRunner`. Unlike the transformers, whose latency excludes tokenisation,
the baseline's latency includes its featurisation: for TF-IDF that *is* most of the work.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from slimnlp.runtime.sklearn import ARRAYS_FILE, SPEC_FILE

NGRAM_RANGE = (2, 4)
MAX_FEATURES = 200_000


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
