"""Comparisons between benchmark rows: speed-ups, agreement, the Pareto front, payback, verdicts.

    from slimnlp.benchmark.compare import summarise
    summary = summarise(results)       # results of slimnlp.benchmark.harness.benchmark_models
    summary["best_student"], summary["versus"]["tfidf-logreg"]["speedup"]

Speed-ups of the best student over each baseline are *per-round* ratios: the variants were timed
interleaved, round by round, so in round r both ran under the same machine load; the median of the
per-round ratios (with its min-max over rounds) is steadier on a shared machine than a ratio of
two medians taken over the whole run.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from slimnlp.benchmark.energy import payback
from slimnlp.config import BenchmarkConfig


def reference_batch_size(cfg: BenchmarkConfig) -> int:
    """The batch size that speed-ups and plots are read at: 32 when timed, else the largest."""
    return 32 if 32 in cfg.batch_sizes else max(cfg.batch_sizes)


def _reference_teacher(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    teachers = [row for row in rows if row["role"] == "teacher"]
    return next((r for r in teachers if r["runtime"] == "pytorch"), teachers[0] if teachers else None)


def add_comparisons(
    rows: list[dict[str, Any]], predictions: dict[str, np.ndarray], cfg: BenchmarkConfig
) -> None:
    """Speed-up, accuracy delta and energy payback vs the teacher in the same runtime, agreement
    with the teacher's predictions, and whether each row is on the accuracy/latency Pareto front."""
    teachers = [row for row in rows if row["role"] == "teacher"]
    reference = _reference_teacher(rows)
    for row in rows:
        if reference is not None:
            agree = predictions[row["name"]] == predictions[reference["name"]]
            row["agreement_with_teacher"] = float(agree.mean())
        teacher = next((t for t in teachers if t["runtime"] == row["runtime"]), None)
        if row["role"] != "student" or teacher is None:
            continue
        for batch_size in cfg.batch_sizes:
            key = f"latency_b{batch_size}_p50_ms"
            row[f"speedup_vs_teacher_b{batch_size}"] = teacher[key] / row[key]
        row["accuracy_delta_vs_teacher"] = row["accuracy"] - teacher["accuracy"]
        row["macro_f1_delta_vs_teacher"] = row["macro_f1"] - teacher["macro_f1"]
        row["payback_predictions_vs_teacher"] = payback(
            row.get("compression_kwh"), teacher.get("energy_kwh_per_1k"), row.get("energy_kwh_per_1k")
        )
    key = f"latency_b{reference_batch_size(cfg)}_p50_ms"
    for row in rows:
        row["pareto"] = not any(
            o["accuracy"] >= row["accuracy"]
            and o[key] <= row[key]
            and (o["accuracy"] > row["accuracy"] or o[key] < row[key])
            for o in rows
        )


def round_ratios(slower: list[float], faster: list[float], rounds: int) -> dict[str, float]:
    """Median, min and max over rounds of median(slower round) / median(faster round)."""
    per_round = len(slower) // rounds
    ratios = [
        float(np.median(slower[r * per_round : (r + 1) * per_round]))
        / float(np.median(faster[r * per_round : (r + 1) * per_round]))
        for r in range(rounds)
    ]
    return {"median": float(np.median(ratios)), "min": min(ratios), "max": max(ratios)}


def best_student(rows: list[dict[str, Any]], batch_size: int) -> dict[str, Any] | None:
    """The most accurate student row; among equally accurate ones, the fastest at `batch_size`."""
    students = [row for row in rows if row["role"] == "student"]
    key = f"latency_b{batch_size}_p50_ms"
    return min(students, key=lambda r: (-r["accuracy"], r[key])) if students else None


def summarise(results: dict[str, Any]) -> dict[str, Any]:
    """The best student against every teacher and baseline row, and plain-words verdicts.

    Returns:
        {"best_student": name or None, "batch_size", "versus": {row name: {"speedup": {median,
        min, max}, "accuracy_delta", "payback_predictions", ...}}, "verdicts": [sentences]}.
    """
    rows, batch = results["rows"], results["reference_batch_size"]
    rounds = results["config"]["rounds"]
    best = best_student(rows, batch)
    summary: dict[str, Any] = {"best_student": best["name"] if best else None, "batch_size": batch}
    summary["versus"] = {}
    for other in rows:
        if best is None or other["role"] == "student":
            continue
        samples = results["latency_samples_ms"]
        summary["versus"][other["name"]] = {
            "role": other["role"],
            "speedup": round_ratios(
                samples[other["name"]][str(batch)], samples[best["name"]][str(batch)], rounds
            ),
            "accuracy_delta": best["accuracy"] - other["accuracy"],
            "macro_f1_delta": best["macro_f1"] - other["macro_f1"],
            "energy_ratio": _ratio(other.get("energy_kwh_per_1k"), best.get("energy_kwh_per_1k")),
            "payback_predictions": payback(
                best.get("compression_kwh"), other.get("energy_kwh_per_1k"), best.get("energy_kwh_per_1k")
            ),
        }
    summary["verdicts"] = verdicts(rows, best, results.get("correct")) + busy_machine(
        results.get("environment", {})
    )
    return summary


def busy_machine(env: dict[str, Any]) -> list[str]:
    """A warning when the load average exceeded the CPUs available while the benchmark ran."""
    load, cpus = env.get("load_average_1m"), env.get("cpus_available")
    if load is None or not cpus or load <= cpus:
        return []
    return [
        f"The machine was busy (load average {load:.1f} on {cpus} CPUs): every variant was slowed, "
        "multi-threaded PyTorch the most; ratios from interleaved rounds are fairer than absolute "
        "latencies, but re-run on a quiet machine for figures to publish."
    ]


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _paired(
    correct: dict[str, str] | None, ours: dict[str, Any] | None, theirs: dict[str, Any] | None
) -> str:
    """', paired difference +0.0040 (90% bounds ...)' of `ours` - `theirs` on the same test rows (the
    statistic of the NAS selection and the gate), or '' without per-row correctness."""
    if not correct or ours is None or theirs is None:
        return ""
    from slimnlp.benchmark.paired import paired_of_packed

    paired = paired_of_packed(correct.get(ours["name"]), correct.get(theirs["name"]))
    return f", paired difference {paired.describe()}" if paired is not None else ""


def verdicts(
    rows: list[dict[str, Any]], best: dict[str, Any] | None, correct: dict[str, str] | None = None
) -> list[str]:
    """Sentences for the top of the report; the first says whether the cheap baseline wins. With the
    rows' per-row correctness, each comparison prints the paired difference and its bounds."""
    lines = []
    cheap = [row for row in rows if row["role"] == "baseline"]
    strongest = max(cheap, key=lambda r: r["accuracy"]) if cheap else None
    teacher = _reference_teacher(rows)
    if strongest is not None:
        beaten = [r for r in (best, teacher) if r is not None and strongest["accuracy"] >= r["accuracy"]]
        if beaten:
            names = " and ".join(f"{r['name']} ({r['accuracy']:.3f})" for r in beaten)
            lines.append(
                f"The cheap baseline wins: {strongest['name']} reaches accuracy {strongest['accuracy']:.3f}, "
                f"at least as accurate as {names}. Deploy it unless the transformer is needed for "
                "another reason, or get a stronger teacher (a pretrained checkpoint) before compressing."
            )
        else:
            lines.append(
                f"The transformer beats the cheap baseline: {strongest['name']} reaches "
                f"{strongest['accuracy']:.3f}, the best student {best['accuracy']:.3f}"
                f"{_paired(correct, best, strongest)}."
                if best
                else f"{strongest['name']} reaches {strongest['accuracy']:.3f}; no student was benchmarked."
            )
    if best is not None and teacher is not None:
        lines.append(
            f"Best student: {best['name']} (accuracy {best['accuracy']:.3f} vs teacher "
            f"{teacher['accuracy']:.3f}{_paired(correct, best, teacher)}, agreement with the teacher "
            f"{best.get('agreement_with_teacher', 0):.3f})."
        )
    measured = {row.get("energy_measured") for row in rows if "energy_measured" in row}
    if measured == {False}:
        lines.append(
            "Energy figures are CodeCarbon estimates (CPU load x TDP, RAM from its size), not measurements: "
            "compare them between rows, not with a power meter."
        )
    return lines
