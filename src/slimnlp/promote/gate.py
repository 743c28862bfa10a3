"""The promotion gate: plain numbers in, a decision with its reasons out.

    decision = decide(candidate, teacher, champion, cfg.registry)
    print("\n".join(decision.reasons))

1. test accuracy within `max_drop_vs_teacher` of the teacher's (same test set, same runtime); with
   both models' per-row correctness (the benchmark's `correct`), the paired difference and its
   bounds (`slimnlp.benchmark.paired`, the statistic the NAS selection chose by) are printed;
2. test accuracy within `max_drop_vs_champion` of the champion's, the champion being scored again
   on *this* run's test set through its own registered pyfunc;
3. a NAS student that select-student could not certify within the budget (`student_holds_budget`
   false: no recovered candidate's paired lower bound cleared it) is challenger only;
4. faster (or smaller) than the teacher, and than the champion, by a margin: the other's figure
   over ours must reach the larger of `registry.min_ratio` and 1 + the spread of the benchmark's
   own rounds. A student at 5.66 ms against a teacher at 5.74 ms (1.014x) is inside the noise of
   a shared machine, not faster; the decision prints both figures, the ratio and the margin.

The spread of a variant's latency is (slowest - fastest) / median of its per-round medians: each
round timed every variant back to back, so it is how far the same model's figure moved with the
machine's load during this very benchmark. Size on disk has no spread.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from slimnlp.benchmark.paired import DEFAULT_CONFIDENCE, PairedDifference, paired_of_packed
from slimnlp.config import RegistryConfig


@dataclass
class Check:
    name: str
    passed: bool
    detail: str


@dataclass
class Decision:
    """What the gate decided and why; `reasons` is what people read."""

    promote: bool
    checks: list[Check] = field(default_factory=list)

    @property
    def reasons(self) -> list[str]:
        return [f"{'pass' if c.passed else 'FAIL'} {c.name}: {c.detail}" for c in self.checks]

    def to_dict(self) -> dict[str, Any]:
        return {"promote": self.promote, "checks": [asdict(c) for c in self.checks], "reasons": self.reasons}


def decide(
    candidate: dict[str, float],
    teacher: dict[str, float],
    champion: dict[str, float] | None,
    cfg: RegistryConfig,
    selection: dict[str, Any] | None = None,
) -> Decision:
    """Apply the promotion gate to plain numbers.

    Args:
        candidate: The student's `accuracy`, `latency_ms` and `size_bytes` from the benchmark,
            optionally `served_accuracy` (through its pyfunc, compared with the champion's) and
            `latency_spread` (the relative spread of its per-round latencies).
        teacher: The teacher's, measured in the same run with the same harness.
        champion: The current champion's (`accuracy` re-scored on this test set; latency, size and
            spread as registered), or None.
        cfg: The budgets, the minimum ratio and which gate (faster or smaller).
        selection: What select-student said of a NAS student chosen among recovered candidates
            (`student_holds_budget`, `choice_reason`), if it was: one that holds no budget at the
            selection's confidence is registered as challenger only, whatever its test figures.

    Returns:
        The decision with one check per rule, passed or not.
    """
    checks = [teacher_accuracy_check(candidate, teacher, cfg.max_drop_vs_teacher)]
    if (selection or {}).get("student_holds_budget") is False:
        checks.append(Check("NAS choice held its budget", False, str(selection.get("choice_reason", ""))))
    if champion is not None:
        ours = candidate.get("served_accuracy", candidate["accuracy"])
        checks.append(_accuracy_check("champion", ours, champion, cfg.max_drop_vs_champion))
    for who, other in (("teacher", teacher), ("champion", champion)):
        if other is not None:
            checks.append(_margin_check(who, candidate, other, cfg))
    return Decision(promote=all(c.passed for c in checks), checks=checks)


def _accuracy_check(who: str, ours: float, other: dict[str, float], budget: float) -> Check:
    drop = float(other["accuracy"]) - float(ours)
    detail = (
        f"accuracy {ours:.4f} vs the {who}'s {other['accuracy']:.4f} (drop {drop:+.4f}, budget {budget:.4f})"
    )
    return Check(f"accuracy vs {who}", drop <= budget + 1e-12, detail)


# --------------------------------------------------------------------------------------------------
# The paired statistic (slimnlp.benchmark.paired): the same "within budget" as the NAS selection


def teacher_accuracy_check(candidate: dict[str, Any], teacher: dict[str, Any], budget: float) -> Check:
    """Accuracy vs the teacher; paired on the same test rows when both carry `correct` (a 0/1 string
    or list per row). The decision reads the difference (it equals the accuracy difference); the
    detail prints its bounds at the default confidence and whether the lower bound clears the budget
    too, i.e. whether the promise the NAS selection made would have been kept with that confidence."""
    paired = paired_test_difference(candidate, teacher)
    if paired is None:
        return _accuracy_check("teacher", candidate["accuracy"], teacher, budget)
    drop = -paired.difference
    confident = "clears" if paired.within(budget) else "does not clear"
    detail = (
        f"accuracy {candidate['accuracy']:.4f} vs the teacher's {teacher['accuracy']:.4f} on the same "
        f"{paired.rows} rows: paired difference {paired.describe()}, budget {budget:.4f}; the lower "
        f"bound {confident} -{budget:.4f}"
    )
    return Check("accuracy vs teacher", drop <= budget + 1e-12, detail)


def paired_test_difference(candidate: dict[str, Any], teacher: dict[str, Any]) -> PairedDifference | None:
    """The paired difference candidate - teacher from their per-row `correct`, or None without them."""
    return paired_of_packed(candidate.get("correct"), teacher.get("correct"), DEFAULT_CONFIDENCE)


def _margin_check(who: str, candidate: dict[str, Any], other: dict[str, Any], cfg: RegistryConfig) -> Check:
    """Faster (smaller) than `other` by at least max(min_ratio, 1 + spread of the rounds)."""
    faster = cfg.gate == "faster"
    key, word, unit = ("latency_ms", "faster", "ms") if faster else ("size_bytes", "smaller", "B")
    if other.get(key) is None:
        return Check(f"{word} than {who}", False, f"the {who} has no recorded {key}")
    ours, theirs = float(candidate[key]), float(other[key])
    ratio = theirs / ours if ours > 0 else float("inf")
    spreads = [s for s in (candidate.get("latency_spread"), other.get("latency_spread")) if s is not None]
    spread = max(spreads) if faster and spreads else None
    needed = max(cfg.min_ratio, 1.0 + (spread or 0.0))
    if not faster:
        margin = f"min_ratio {cfg.min_ratio:.2f}x; size has no spread"
    elif spread is None:
        margin = f"min_ratio {cfg.min_ratio:.2f}x; no round spread recorded"
    else:
        margin = f"min_ratio {cfg.min_ratio:.2f}x, round spread {spread:.1%} -> {1 + spread:.2f}x"
    detail = (
        f"{_num(ours)} {unit} vs the {who}'s {_num(theirs)} {unit}: {ratio:.3f}x, needs >= {needed:.3f}x "
        f"({margin})"
    )
    return Check(f"{word} than {who}", ratio >= needed, detail)


def _num(value: float) -> str:
    return f"{value:,.0f}" if value >= 1000 else f"{value:.3g}"


# --------------------------------------------------------------------------------------------------
# The spread of the benchmark rounds


def round_spread(samples: list[float], rounds: int) -> float | None:
    """(max - min) / median of the per-round medians of one variant at one timing point; None when
    there are fewer than two rounds to compare."""
    if rounds < 2 or len(samples) < rounds:
        return None
    per_round = len(samples) // rounds
    medians = [float(np.median(samples[r * per_round : (r + 1) * per_round])) for r in range(rounds)]
    middle = float(np.median(medians))
    return (max(medians) - min(medians)) / middle if middle > 0 else None


def latency_point(latency_metric: str) -> str:
    """The timing point of a benchmark latency column: latency_b1_p50_ms -> "1"."""
    return latency_metric.removeprefix("latency_b").split("_", 1)[0]


def spread_from_results(results: dict[str, Any], variant: str, latency_metric: str) -> float | None:
    """The round spread of `variant` at the point of `latency_metric`, from a benchmark results.json."""
    samples = (results.get("latency_samples_ms") or {}).get(variant, {}).get(latency_point(latency_metric))
    rounds = int((results.get("config") or {}).get("rounds", 0) or 0)
    return round_spread(samples, rounds) if samples else None
