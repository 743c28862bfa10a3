"""Choose after recovery (torch-free): which front points are recovered, which recovered one is the
student, and which of its recovery stages is kept.

    picks = recovery_candidates(points, chosen, teacher_accuracy, budget=0.01, k=3, batch_size=32)
    stage = best_stage({"distill": distill_correct, "finetune-amp": finetune_correct})
    choice = choose_student(recovered, budget=0.01)    # {"student": 1, "holds": True, "reason": ...}

The front is scored with the super-network's shared weights, before distill and finetune-amp, and
recovery moves points by different amounts: the point that looked fastest within the budget can lose
ground, a slower one can gain. So the fastest few points that *could* meet the budget (their upper
bound clears it) are each recovered, and the student is the fastest that *holds* it after recovery
(its lower bound on the selection rows clears it). When none holds, the most accurate is kept, with
the reason, so that promotion registers it as challenger and the report shows every candidate.
"""

from __future__ import annotations

from typing import Any

from slimnlp.benchmark.paired import DEFAULT_CONFIDENCE, PairedDifference, paired_difference

CANDIDATES_FILE = "candidates.json"
CANDIDATES_DIR = "candidates"


def could_meet(point: dict[str, Any], teacher_accuracy: float, budget: float) -> bool:
    """The upper bound of the paired difference clears -budget (else the point estimate does)."""
    if "delta_high" in point:
        return point["delta_high"] >= -budget - 1e-12
    return teacher_accuracy - point["dev_accuracy"] <= budget + 1e-12


def recovery_candidates(
    points: list[dict[str, Any]],
    chosen: dict[str, Any],
    teacher_accuracy: float,
    *,
    budget: float,
    k: int,
    batch_size: int,
) -> list[dict[str, Any]]:
    """The `k` fastest points that could meet the budget, fastest first; the confident pick `chosen`
    is always among them (it replaces the slowest when it is not), so one candidate is safe."""
    key = f"measured_ms_b{batch_size}"
    hopeful = sorted(
        (p for p in points if could_meet(p, teacher_accuracy, budget) or p["arch"] == chosen["arch"]),
        key=lambda p: p[key],
    )
    picks = hopeful[:k]
    if all(p["arch"] != chosen["arch"] for p in picks):
        picks = picks[: k - 1] + [chosen]
    return sorted(picks, key=lambda p: p[key])


def best_stage(stages: dict[str, Any], teacher_correct: Any = None) -> tuple[str, dict[str, float]]:
    """The recovery stage to keep: the first (distill) unless a later one scores higher on the
    selection rows, so recovery never loses ground. `stages` maps stage name -> per-row correctness
    on the selection rows, in the order they ran. Returns (the kept stage, {stage: accuracy})."""
    import numpy as np

    scores = {name: float(np.asarray(rows, dtype=bool).mean()) for name, rows in stages.items()}
    names = list(stages)
    kept = names[0]
    for name in names[1:]:
        if scores[name] > scores[kept]:
            kept = name
    return kept, scores


def candidate_record(
    index: int,
    arch: str,
    latency_ms: float,
    candidate_correct: Any,
    teacher_correct: Any,
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    stage: str = "",
    stage_accuracies: dict[str, float] | None = None,
) -> dict[str, Any]:
    """One recovered candidate's figures on the selection rows: accuracy, paired difference to the
    teacher with its bounds, latency (the front check's), the stage kept."""
    paired = paired_difference(candidate_correct, teacher_correct, confidence=confidence)
    return {
        "index": index,
        "arch": arch,
        "latency_ms": latency_ms,
        "selection_accuracy": float(sum(bool(c) for c in candidate_correct) / len(candidate_correct)),
        "paired": paired.to_dict(),
        "stage": stage,
        "stage_accuracies": stage_accuracies or {},
    }


def choose_student(recovered: list[dict[str, Any]], budget: float) -> dict[str, Any]:
    """The fastest recovered candidate whose paired lower bound clears -budget; else the most
    accurate, with the reason. Returns {"student", "holds", "reason", "candidates"}."""
    if not recovered:
        raise ValueError("no recovered candidate to choose from: prune.nas.recover_top_k >= 1")
    by_speed = sorted(recovered, key=lambda r: r["latency_ms"])
    paired = {r["index"]: PairedDifference(**r["paired"]) for r in recovered}
    holding = [r for r in by_speed if paired[r["index"]].within(budget)]
    if holding:
        pick, holds = holding[0], True
        skipped = [r for r in by_speed if r["latency_ms"] < pick["latency_ms"]]
        reason = (
            f"candidate {pick['index']} `{pick['arch']}` is the fastest within {budget:.4f} of the teacher"
        )
        if skipped:
            reason += "; faster ones missed: " + "; ".join(
                f"{r['index']} `{r['arch']}` {paired[r['index']].describe()}" for r in skipped
            )
    else:
        pick, holds = max(recovered, key=lambda r: (r["selection_accuracy"], -r["latency_ms"])), False
        reason = (
            f"no recovered candidate is within {budget:.4f} of the teacher at "
            f"{paired[pick['index']].confidence:.0%} confidence: kept the most accurate, candidate "
            f"{pick['index']} `{pick['arch']}` {paired[pick['index']].describe()}; it can only be challenger"
        )
    return {"student": pick["index"], "holds": holds, "reason": reason, "candidates": recovered}


def candidates_markdown(choice: dict[str, Any]) -> str:
    """Every recovered candidate's figures as a Markdown table, the student marked, the reason under it."""
    lines = [
        "| candidate | sub-network | ms | stage kept | selection acc | vs teacher (bounds) |",
        "|---|---|---|---|---|---|",
    ]
    for r in sorted(choice["candidates"], key=lambda r: r["latency_ms"]):
        p = PairedDifference(**r["paired"])
        mark = " (student)" if r["index"] == choice["student"] else ""
        lines.append(
            f"| {r['index']}{mark} | `{r['arch']}` | {r['latency_ms']:.2f} | {r['stage'] or '-'} | "
            f"{r['selection_accuracy']:.4f} | {p.difference:+.4f} ({p.low:+.4f} .. {p.high:+.4f}) |"
        )
    return "\n".join(lines) + f"\n\n{choice['reason']}\n"
