"""The paired accuracy difference of a candidate against a reference on the same rows (torch-free).

    from slimnlp.benchmark.paired import paired_difference
    d = paired_difference(student_correct, teacher_correct, confidence=0.9)
    d.within(0.01), d.describe()   # True, "-0.0040 (90% bounds -0.0121 .. +0.0041; 1500 rows, 31 won, 37 lost)"

"Within the budget" means one thing everywhere it is asked: the NAS selection on the selection rows
of dev, the choice after recovery, the promotion gate on test, the grid's best branch and the
report's verdicts all read this statistic. Both models scored the same rows, so only the rows where
they disagree move the difference (`won`: the candidate right and the reference wrong; `lost`: the
reverse); an unpaired comparison of two accuracies would count the rows' own difficulty as noise
twice.

The bounds are one-sided at `confidence` each (0.9: the difference is above `low` with 90%
confidence, below `high` with 90%), so the `low .. high` band is a two-sided 80% interval. `normal`
(the default) is the normal approximation to the mean of the per-row differences d_i in {-1, 0, 1}:
mean (won - lost) / n, standard error sqrt(var(d) / n) with var(d) = ((won + lost) / n - mean^2) *
n / (n - 1); `bootstrap` resamples rows with a fixed seed (the same rows for every pair of models).
When the two agree on every row the bounds collapse on the difference (0).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from statistics import NormalDist
from typing import Any

import numpy as np

DEFAULT_CONFIDENCE = 0.9
METHODS = ("normal", "bootstrap")


@dataclass(frozen=True)
class PairedDifference:
    """Candidate accuracy minus reference accuracy on the same rows, with one-sided bounds."""

    difference: float
    low: float
    high: float
    confidence: float
    rows: int
    won: int  # rows the candidate got right and the reference wrong
    lost: int  # rows the reference got right and the candidate wrong
    method: str = "normal"

    def within(self, budget: float) -> bool:
        """Whether the candidate is within `budget` of the reference at this confidence: its lower
        bound clears -budget (a candidate better than the reference always is)."""
        return self.low >= -budget - 1e-12

    def describe(self) -> str:
        level = f"{self.confidence:.0%}"
        return (
            f"{self.difference:+.4f} ({level} bounds {self.low:+.4f} .. {self.high:+.4f}; {self.rows} rows, "
            f"{self.won} won, {self.lost} lost)"
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def correct(predictions: Sequence[int] | np.ndarray, labels: Sequence[int] | np.ndarray) -> np.ndarray:
    """Per-row correctness (bool array) of `predictions` against `labels`; a length mismatch names both."""
    predictions, labels = np.asarray(predictions), np.asarray(labels)
    if predictions.shape != labels.shape:
        raise ValueError(f"{len(predictions)} predictions for {len(labels)} labels: score the same rows")
    return predictions == labels


def paired_difference(
    candidate_correct: Sequence[bool] | np.ndarray,
    reference_correct: Sequence[bool] | np.ndarray,
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    method: str = "normal",
    resamples: int = 2000,
    seed: int = 0,
) -> PairedDifference:
    """The paired difference of two models' per-row correctness on the same rows.

    Args:
        candidate_correct: 1/True where the candidate is right, one entry per row.
        reference_correct: The same for the reference (the teacher), on the same rows in the same order.
        confidence: Level of each one-sided bound, in (0.5, 1).
        method: "normal" (closed form on the discordant rows) or "bootstrap" (row resampling).
        resamples: Bootstrap resamples.
        seed: Bootstrap seed (fixed: the same data gives the same bounds).

    Returns:
        The difference, its bounds and the discordant counts.
    """
    if method not in METHODS:
        raise ValueError(f"paired difference method must be one of {METHODS}, got {method!r}")
    if not 0.5 < confidence < 1:
        raise ValueError(f"confidence must be in (0.5, 1), got {confidence}")
    a = np.asarray(candidate_correct, dtype=bool)
    b = np.asarray(reference_correct, dtype=bool)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(
            f"paired difference needs the same rows for both models: got {a.shape} and {b.shape}"
        )
    n = len(a)
    if n == 0:
        raise ValueError("paired difference of zero rows: score at least one row")
    won, lost = int((a & ~b).sum()), int((~a & b).sum())
    diff = (won - lost) / n
    if method == "normal":
        low, high = _normal_bounds(won, lost, n, confidence)
    else:
        low, high = _bootstrap_bounds(a.astype(np.int8) - b.astype(np.int8), confidence, resamples, seed)
    return PairedDifference(diff, low, high, confidence, n, won, lost, method)


def _normal_bounds(won: int, lost: int, n: int, confidence: float) -> tuple[float, float]:
    mean = (won - lost) / n
    if n < 2 or won + lost == 0:
        return mean, mean
    variance = max(((won + lost) / n - mean * mean) * n / (n - 1), 0.0)
    half = NormalDist().inv_cdf(confidence) * math.sqrt(variance / n)
    return mean - half, mean + half


def _bootstrap_bounds(d: np.ndarray, confidence: float, resamples: int, seed: int) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    n, means = len(d), np.empty(resamples)
    chunk = max(1, 2_000_000 // n)  # bounded memory: a few MB of indices at a time
    for start in range(0, resamples, chunk):
        stop = min(resamples, start + chunk)
        means[start:stop] = d[rng.integers(0, n, size=(stop - start, n))].mean(axis=1)
    return float(np.quantile(means, 1 - confidence)), float(np.quantile(means, confidence))


def paired_from_predictions(
    candidate: Sequence[int],
    reference: Sequence[int],
    labels: Sequence[int],
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    method: str = "normal",
) -> PairedDifference:
    """`paired_difference` from two models' predicted label ids and the gold ids."""
    return paired_difference(
        correct(candidate, labels), correct(reference, labels), confidence=confidence, method=method
    )


def pack_correct(correct_rows: Sequence[bool] | np.ndarray) -> str:
    """Per-row correctness as a compact '0'/'1' string (what results.json and front.json store)."""
    return "".join("1" if c else "0" for c in np.asarray(correct_rows, dtype=bool))


def unpack_correct(text: str) -> np.ndarray:
    """The inverse of `pack_correct`; any other character than 0/1 is an error naming it."""
    bad = set(text) - {"0", "1"}
    if bad:
        raise ValueError(f"per-row correctness must be a string of 0/1, found {sorted(bad)[:3]}")
    return np.frombuffer(text.encode("ascii"), dtype=np.uint8) == ord("1")


def paired_of_packed(
    candidate: Any, reference: Any, confidence: float = DEFAULT_CONFIDENCE
) -> PairedDifference | None:
    """The paired difference from two per-row correctness records ('0'/'1' strings or sequences), or
    None when either is missing or they cover different numbers of rows (results written before
    per-row correctness was recorded)."""
    if candidate is None or reference is None or len(candidate) != len(reference) or not len(candidate):
        return None
    a = unpack_correct(candidate) if isinstance(candidate, str) else candidate
    b = unpack_correct(reference) if isinstance(reference, str) else reference
    return paired_difference(a, b, confidence=confidence)
