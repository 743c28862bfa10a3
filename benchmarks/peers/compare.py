"""Where slimnlp stands against each peer point: at equal latency, and at equal accuracy.

    from peers.compare import Point, compare_all
    verdicts = compare_all(slimnlp_points, peer_points, n_texts=1500)

Two questions per peer point P (accuracy a_P, p50 latency t_P at the reference batch size):
- at equal latency: the most accurate slimnlp point no slower than P (within the latency noise);
  its accuracy against a_P is "ahead", "behind" or "level within noise";
- at equal accuracy: the fastest slimnlp point at least as accurate as P (within the accuracy
  noise); its speed-up t_P / t_S is "ahead" when above 1 + noise, "behind" below 1 / (1 + noise),
  else "level within noise".
When no slimnlp point is that fast (or that accurate), slimnlp is "behind" on that question.

Noise, as the promotion gate (`slimnlp.promote.gate.round_spread`) defines it for latency: the spread
of a variant's per-round medians, (slowest - fastest) / median, the larger of the two compared
variants'. Accuracy has no rounds: two accuracies on the same n test texts are level when their
difference is within 1.96 standard errors, sqrt(a1 (1 - a1) / n + a2 (1 - a2) / n).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

AHEAD, BEHIND, LEVEL = "ahead", "behind", "level within noise"


@dataclass
class Point:
    """One model in one runtime: accuracy and p50 latency (ms) at the reference batch size, and the
    relative spread of its per-round latency medians (None when unknown: counted as 0)."""

    name: str
    accuracy: float
    latency_ms: float
    spread: float | None = None


def round_spread(samples: list[float], rounds: int) -> float | None:
    """(max - min) / median of the per-round medians of one variant at one timing point (samples in
    round order, as `slimnlp.benchmark.latency.time_interleaved` returns them); None with < 2 rounds."""
    if rounds < 2 or len(samples) < rounds:
        return None
    per_round = len(samples) // rounds
    medians = [float(np.median(samples[r * per_round : (r + 1) * per_round])) for r in range(rounds)]
    middle = float(np.median(medians))
    return (max(medians) - min(medians)) / middle if middle > 0 else None


def accuracy_noise(a: float, b: float, n_texts: int) -> float:
    """1.96 standard errors of the difference of two accuracies on n_texts texts each."""
    if n_texts <= 0:
        raise ValueError(f"accuracy noise needs the number of test texts, got {n_texts}")
    return 1.96 * math.sqrt((a * (1 - a) + b * (1 - b)) / n_texts)


def _latency_noise(a: Point, b: Point) -> float:
    return max(a.spread or 0.0, b.spread or 0.0)


def accuracy_verdict(ours: float, theirs: float, n_texts: int) -> str:
    noise = accuracy_noise(ours, theirs, n_texts)
    if ours - theirs > noise:
        return AHEAD
    return BEHIND if theirs - ours > noise else LEVEL


def speed_verdict(speedup: float, noise: float) -> str:
    """`speedup` = peer latency / slimnlp latency."""
    if speedup > 1.0 + noise:
        return AHEAD
    return BEHIND if speedup < 1.0 / (1.0 + noise) else LEVEL


def at_equal_latency(ours: list[Point], peer: Point, n_texts: int) -> dict[str, Any]:
    """The most accurate of `ours` no slower than `peer` (within the latency noise), and the verdict."""
    fast_enough = [p for p in ours if p.latency_ms <= peer.latency_ms * (1.0 + _latency_noise(p, peer))]
    if not fast_enough:
        fastest = min(ours, key=lambda p: p.latency_ms)
        return {
            "slimnlp_point": None,
            "verdict": BEHIND,
            "why": f"no slimnlp point is as fast: the fastest, {fastest.name}, takes "
            f"{fastest.latency_ms:.3g} ms against {peer.latency_ms:.3g} ms",
        }
    best = max(fast_enough, key=lambda p: (p.accuracy, -p.latency_ms))
    return {
        "slimnlp_point": best.name,
        "slimnlp_accuracy": best.accuracy,
        "accuracy_delta": best.accuracy - peer.accuracy,
        "accuracy_noise": accuracy_noise(best.accuracy, peer.accuracy, n_texts),
        "verdict": accuracy_verdict(best.accuracy, peer.accuracy, n_texts),
    }


def at_equal_accuracy(ours: list[Point], peer: Point, n_texts: int) -> dict[str, Any]:
    """The fastest of `ours` at least as accurate as `peer` (within the accuracy noise), and the verdict."""
    accurate = [
        p for p in ours if peer.accuracy - p.accuracy <= accuracy_noise(p.accuracy, peer.accuracy, n_texts)
    ]
    if not accurate:
        best = max(ours, key=lambda p: p.accuracy)
        return {
            "slimnlp_point": None,
            "verdict": BEHIND,
            "why": f"no slimnlp point is as accurate: the most accurate, {best.name}, reaches "
            f"{best.accuracy:.3f} against {peer.accuracy:.3f}",
        }
    fastest = min(accurate, key=lambda p: (p.latency_ms, -p.accuracy))
    noise = _latency_noise(fastest, peer)
    speedup = peer.latency_ms / fastest.latency_ms
    return {
        "slimnlp_point": fastest.name,
        "speedup": speedup,
        "latency_noise": noise,
        "verdict": speed_verdict(speedup, noise),
    }


def compare_all(ours: list[Point], peers: list[Point], n_texts: int) -> list[dict[str, Any]]:
    """One record per peer point: both questions' answers (see the module docstring)."""
    if not ours:
        raise ValueError("no slimnlp point to compare with: pass the run dir (--run) with a student")
    return [
        {
            "peer": asdict(peer),
            "equal_latency": at_equal_latency(ours, peer, n_texts),
            "equal_accuracy": at_equal_accuracy(ours, peer, n_texts),
        }
        for peer in peers
    ]
