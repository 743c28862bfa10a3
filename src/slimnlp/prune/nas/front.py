"""The Pareto front: measured end to end, written as a table and a plot, and one point selected.

    points = check_front(model, tokenizer, front, table, target, texts, dev, max_length, workdir, checks=12)
    write_front(artifacts, points, teacher, batch_size=32)   # front.json / .csv / .md / .png
    chosen = select_point(points, teacher, rule="fastest_within", max_accuracy_drop=0.01, batch_size=32)

Each checked point is sliced, exported and timed in the target runtime interleaved with the teacher
(the full sub-network), so its speed-up is a ratio measured in the same rounds, and the latency
model's prediction is compared with what was measured. Each point is scored on the selection rows
(dev rows the search never saw) and compared with the teacher on the same rows by the paired
difference (`slimnlp.benchmark.paired`): `fastest_within` keeps the fastest point whose lower bound
clears the budget, so a point the search's rows flattered is not chosen on their word.
"""

from __future__ import annotations

import copy
import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from slimnlp.benchmark.paired import DEFAULT_CONFIDENCE, correct, paired_difference
from slimnlp.prune.nas.latency import LatencyTable, LatencyTarget, build_runner, time_runners
from slimnlp.prune.nas.search import Candidate, subnetwork_predictions
from slimnlp.prune.nas.space import SubNetwork
from slimnlp.prune.nas.supernet import slice_subnetwork
from slimnlp.training.batches import predict_logits

FRONT_FILES = ("front.json", "front.csv", "front.md", "front.png", "report_section.json")


class NasSelectionError(ValueError):
    """No point of the front meets the selection target."""


def spread(front: list[Candidate], count: int) -> list[Candidate]:
    """At most `count` points evenly spread over the front (fastest and most accurate included)."""
    if len(front) <= count:
        return list(front)
    if count == 1:
        return [front[-1]]
    picks = sorted({round(i * (len(front) - 1) / (count - 1)) for i in range(count)})
    return [front[i] for i in picks]


def check_front(
    model: nn.Module,
    tokenizer: Any,
    front: list[Candidate],
    table: LatencyTable,
    target: LatencyTarget,
    texts: list[str],
    dev: tuple[list[str], list[int]],
    max_length: int,
    workdir: Path,
    *,
    teacher_arch: SubNetwork,
    teacher_correct: Any = None,
    confidence: float = DEFAULT_CONFIDENCE,
    progress: bool = True,
    own_models: dict[str, nn.Module] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Measure each front point (and the teacher's shape) end to end; score each on `dev` (the
    selection rows) and, given the teacher's per-row correctness there, its paired difference to
    the teacher (`delta_vs_teacher`, `delta_low`, `delta_high`: one-sided bounds at `confidence`).

    A point whose arch key is in `own_models` is that model (trained apart from the super-network:
    the zero-layer point of `slimnlp.prune.nas.pooled`) instead of a slice of `model`.

    Returns:
        (points, teacher): one dict per point (arch, accuracy, parameters, size, predicted and
        measured ms, speed-up and prediction error per batch size), and the teacher's measured ms.
    """
    from tqdm.auto import tqdm

    own_models = own_models or {}

    def point_model(arch: SubNetwork) -> nn.Module:
        if arch.key in own_models:
            return copy.deepcopy(own_models[arch.key]).cpu().eval()
        return slice_subnetwork(copy.deepcopy(model).cpu().eval(), arch)

    runners, sizes = {}, {}
    for i, point in enumerate(tqdm(front, desc="nas front checks", disable=not progress)):
        sliced = point_model(point.arch)
        runners[f"p{i}"], sizes[f"p{i}"] = build_runner(sliced, tokenizer, target, workdir, f"p{i}", texts)
    full = slice_subnetwork(copy.deepcopy(model).cpu().eval(), teacher_arch)
    runners["teacher"], sizes["teacher"] = build_runner(full, tokenizer, target, workdir, "teacher", texts)
    medians = time_runners(runners, texts, target, progress)
    points = []
    for i, point in enumerate(front):
        row: dict[str, Any] = {
            "arch": point.arch.key,
            "kept_layers": point.arch.kept_layers,
            "heads_per_layer": [h for h, _ in point.arch.layers if h],
            "ffn_per_layer": [u for h, u in point.arch.layers if h],
            "search_accuracy": point.accuracy,
            "encoder_params": point.params,
            "size_bytes": sizes[f"p{i}"],
        }
        if point.arch.key in own_models:
            predictions = predict_logits(point_model(point.arch), tokenizer, dev[0], max_length).argmax(-1)
        else:
            predictions = subnetwork_predictions(model, tokenizer, point.arch, dev[0], max_length)
        right = correct(np.asarray(predictions), dev[1])
        row["dev_accuracy"] = float(right.mean())
        if teacher_correct is not None:
            paired = paired_difference(right, teacher_correct, confidence=confidence)
            row |= {"delta_vs_teacher": paired.difference, "delta_low": paired.low, "delta_high": paired.high}
        for b in target.batch_sizes:
            predicted, measured = table.predict(point.arch, b), medians[b][f"p{i}"]
            row[f"predicted_ms_b{b}"] = predicted
            row[f"measured_ms_b{b}"] = measured
            row[f"speedup_b{b}"] = medians[b]["teacher"] / measured
            row[f"latency_error_b{b}"] = predicted / measured - 1
        points.append(row)
    teacher = {
        "arch": teacher_arch.key,
        "runtime": target.runtime,
        "size_bytes": sizes["teacher"],
        **{f"measured_ms_b{b}": medians[b]["teacher"] for b in target.batch_sizes},
        **{f"predicted_ms_b{b}": table.predict(teacher_arch, b) for b in target.batch_sizes},
    }
    return points, teacher


def latency_model_error(points: list[dict[str, Any]], batch_sizes) -> dict[str, float]:
    """Mean and max |predicted / measured - 1| over the checked points, per batch size."""
    errors = {}
    for b in batch_sizes:
        values = [abs(p[f"latency_error_b{b}"]) for p in points]
        errors[f"latency_model_mean_abs_error_b{b}"] = sum(values) / len(values)
        errors[f"latency_model_max_abs_error_b{b}"] = max(values)
    return errors


# --------------------------------------------------------------------------------------------------
# Selection


def _describe(point: dict[str, Any], teacher_accuracy: float, b: int) -> str:
    bounds = (
        f", paired bounds {point['delta_low']:+.4f} .. {point['delta_high']:+.4f}"
        if "delta_low" in point
        else ""
    )
    return (
        f"{point['arch']} (dev accuracy {point['dev_accuracy']:.4f}, {teacher_accuracy - point['dev_accuracy']:+.4f} "
        f"below the teacher{bounds}; {point[f'measured_ms_b{b}']:.2f} ms at batch {b}, "
        f"{point[f'speedup_b{b}']:.2f}x)"
    )


def within_budget(point: dict[str, Any], teacher_accuracy: float, budget: float) -> bool:
    """The paired lower bound clears -budget (points scored against the teacher row by row), else
    the point estimate does (points without per-row scores)."""
    if "delta_low" in point:
        return point["delta_low"] >= -budget - 1e-12
    return teacher_accuracy - point["dev_accuracy"] <= budget + 1e-12


def worst_case_drop(point: dict[str, Any], teacher_accuracy: float) -> float:
    """The drop a budget must allow for `point` to be within it (see `within_budget`)."""
    return -point["delta_low"] if "delta_low" in point else teacher_accuracy - point["dev_accuracy"]


def select_point(
    points: list[dict[str, Any]],
    teacher_accuracy: float,
    rule: str,
    *,
    batch_size: int,
    max_accuracy_drop: float,
    max_latency_ms: float | None = None,
    min_speedup: float | None = None,
) -> dict[str, Any]:
    """The point `rule` picks among the checked front points; NasSelectionError names the best
    reachable point and what to relax when none meets the target."""
    b = batch_size
    if rule in ("fastest_within", "smallest_within"):
        ok = [p for p in points if within_budget(p, teacher_accuracy, max_accuracy_drop)]
        if ok:
            key = (
                (lambda p: p[f"measured_ms_b{b}"])
                if rule == "fastest_within"
                else (lambda p: p["size_bytes"])
            )
            return min(ok, key=key)
        best = min(points, key=lambda p: worst_case_drop(p, teacher_accuracy))
        paired = (
            " (lower bound of the paired difference, prune.nas.confidence)" if "delta_low" in best else ""
        )
        raise NasSelectionError(
            f"prune.nas.select={rule}: no front point is within {max_accuracy_drop:.4f} dev accuracy of the "
            f"teacher ({teacher_accuracy:.4f}){paired}; the closest is {_describe(best, teacher_accuracy, b)}. "
            f"Relax prune.nas.max_accuracy_drop to >= {worst_case_drop(best, teacher_accuracy):.4f}, or train "
            "the super-network longer (prune.nas.steps, prune.nas.max_minutes)."
        )
    if rule == "most_accurate_under":
        if max_latency_ms is not None:
            ok = [p for p in points if p[f"measured_ms_b{b}"] <= max_latency_ms]
            target, knob = f"{max_latency_ms} ms at batch {b}", "prune.nas.max_latency_ms"
        else:
            ok = [p for p in points if p[f"speedup_b{b}"] >= min_speedup]
            target, knob = f"a {min_speedup}x speed-up at batch {b}", "prune.nas.min_speedup"
        if ok:
            return max(ok, key=lambda p: (p["dev_accuracy"], -p[f"measured_ms_b{b}"]))
        fastest = min(points, key=lambda p: p[f"measured_ms_b{b}"])
        reachable = (
            f"{fastest[f'measured_ms_b{b}']:.2f}"
            if max_latency_ms is not None
            else f"{fastest[f'speedup_b{b}']:.2f}"
        )
        relax = "raise" if max_latency_ms is not None else "lower"
        raise NasSelectionError(
            f"prune.nas.select=most_accurate_under: no front point reaches {target}; the fastest is "
            f"{_describe(fastest, teacher_accuracy, b)}. {relax.capitalize()} {knob} to {reachable}, or widen "
            "the search space (prune.nas.space: large drops layers; a smaller prune.nas.min_ffn_units)."
        )
    raise ValueError(f"unknown selection rule {rule!r}")


# --------------------------------------------------------------------------------------------------
# Writing


COLUMNS = (
    "arch",
    "dev_accuracy",
    "delta_vs_teacher",
    "delta_low",
    "delta_high",
    "search_accuracy",
    "encoder_params",
    "size_bytes",
)


def _columns(batch_sizes) -> list[str]:
    per_batch = ("predicted_ms", "measured_ms", "speedup", "latency_error")
    return list(COLUMNS) + [f"{name}_b{b}" for b in batch_sizes for name in per_batch]


def write_front(
    folder: Path,
    points: list[dict[str, Any]],
    teacher: dict[str, Any],
    *,
    batch_sizes,
    batch_size: int,
    selected: str | None = None,
) -> list[Path]:
    """front.json, front.csv, front.md and front.png in `folder`; returns the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    columns = _columns(batch_sizes)
    payload = {"teacher": teacher, "points": points, "selected": selected, "batch_size": batch_size}
    (folder / "front.json").write_text(json.dumps(payload, indent=2), encoding="utf-8")
    with (folder / "front.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["selected", *columns], extrasaction="ignore")
        writer.writeheader()
        for p in points:
            writer.writerow({"selected": p["arch"] == selected, **p})
    (folder / "front.md").write_text(front_markdown(points, teacher, batch_sizes, selected), encoding="utf-8")
    front_plot(folder / "front.png", points, teacher, batch_size, selected)
    header, rows = front_rows(points, teacher, batch_sizes, selected)
    section = {
        "title": "NAS Pareto front (prune step)",
        "text": (
            f"Sub-networks of the weight-sharing super-network on the accuracy/latency front, each sliced, "
            f"exported and timed in {teacher.get('runtime', 'the target runtime')} interleaved with the "
            f"teacher's shape; dev accuracy with the shared weights (before distill and finetune-amp). "
            f"Layers as heads x FFN units, '-' = dropped. Selected: {selected or 'none (no point met the target)'}."
        ),
        "header": header,
        "rows": rows,
        "images": ["front.png"],
    }
    (folder / "report_section.json").write_text(json.dumps(section, indent=2), encoding="utf-8")
    return [folder / name for name in FRONT_FILES]


def front_rows(points, teacher, batch_sizes, selected: str | None) -> tuple[list[str], list[list[str]]]:
    """The front as table cells (layers as heads x FFN units, '-' = dropped), fastest first."""
    head = ["sub-network", "dev acc", "vs teacher (bounds)", "encoder params", "size MB"] + [
        f"b{b} {name}" for b in batch_sizes for name in ("ms", "predicted", "speed-up")
    ]
    rows = []
    for p in points:
        cells = [
            p["arch"] + (" (selected)" if p["arch"] == selected else ""),
            f"{p['dev_accuracy']:.4f}",
            (
                f"{p['delta_vs_teacher']:+.4f} ({p['delta_low']:+.4f} .. {p['delta_high']:+.4f})"
                if "delta_low" in p
                else ""
            ),
            f"{p['encoder_params']:,}",
            f"{p['size_bytes'] / 1e6:.2f}",
        ]
        for b in batch_sizes:
            cells += [
                f"{p[f'measured_ms_b{b}']:.2f}",
                f"{p[f'predicted_ms_b{b}']:.2f}",
                f"{p[f'speedup_b{b}']:.2f}x",
            ]
        rows.append(cells)
    return head, rows


def front_markdown(points, teacher, batch_sizes, selected: str | None) -> str:
    """The front as a Markdown table, and the teacher's figures under it."""
    head, rows = front_rows(points, teacher, batch_sizes, selected)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    teacher_ms = ", ".join(f"b{b} {teacher[f'measured_ms_b{b}']:.2f} ms" for b in batch_sizes)
    lines.append(f"\nTeacher `{teacher['arch']}`: {teacher_ms}, {teacher['size_bytes'] / 1e6:.2f} MB.")
    return "\n".join(lines) + "\n"


def front_plot(path: Path, points, teacher, batch_size: int, selected: str | None) -> Path:
    """Dev accuracy vs measured latency; point area = size on disk; the selected point ringed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    b = batch_size
    fig, ax = plt.subplots(figsize=(7, 4.5))
    biggest = max([p["size_bytes"] for p in points] + [teacher["size_bytes"]])
    xs, ys = [p[f"measured_ms_b{b}"] for p in points], [p["dev_accuracy"] for p in points]
    ax.plot(xs, ys, color="tab:blue", alpha=0.4, zorder=1)
    ax.scatter(
        xs,
        ys,
        s=[400 * p["size_bytes"] / biggest for p in points],
        color="tab:blue",
        alpha=0.7,
        label="front point (area = size on disk)",
        zorder=2,
    )
    for p in points:
        if p["arch"] == selected:
            ax.scatter(
                [p[f"measured_ms_b{b}"]],
                [p["dev_accuracy"]],
                s=700,
                facecolors="none",
                edgecolors="tab:red",
                linewidths=2,
                label="selected",
                zorder=3,
            )
    if teacher.get("dev_accuracy") is not None:
        ax.scatter(
            [teacher[f"measured_ms_b{b}"]],
            [teacher["dev_accuracy"]],
            marker="*",
            s=250,
            color="black",
            label="teacher",
            zorder=3,
        )
    ax.set_xlabel(f"measured latency, batch {b} (ms per call)")
    ax.set_ylabel("dev accuracy (shared weights)")
    ax.set_title("NAS Pareto front: accuracy vs measured latency")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
