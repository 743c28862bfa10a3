"""The reference paper's experiment grid: branches, per-branch rows, the results table and plot.

    slimnlp run --config configs/paper-grid.yaml

Each branch is one (pruning method, calibration sources, pruning level, KD or not, precision) point
(`grid.methods`, `grid.calibration`, `grid.sparsities`, ...; any registered pruner, block movement by
default). The pipeline (`pipelines/grid.py`) gives every branch its own run config (`branch_config`),
runs prune, finetune-amp, export-onnx and benchmark on it, turns the outputs into one row (`branch_row`), and finally
gathers all rows into one table and one plot (`write_grid_report`).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from slimnlp.benchmark.tables import cell, markdown_lines
from slimnlp.config import ConfigError, RunConfig, config_from_dict
from slimnlp.models import read_metrics
from slimnlp.prune.methods import prune_method

ROW_FILE = "row.json"

# The table's columns, in order: what the branch is, what it reached, how fast and how big it is.
COLUMNS = (
    "branch",
    "method",
    "calibration",
    "sparsity",
    "kd",
    "precision_requested",
    "precision_ran",
    "accuracy",
    "macro_f1",
    "accuracy_delta_vs_teacher",
    "accuracy_delta_bounds",  # the paired difference's bounds on the same test rows (benchmark.paired)
    "latency_b1_p50_ms",
    "latency_b32_p50_ms",
    "speedup_vs_teacher_b1",
    "speedup_vs_teacher_b32",
    "size_bytes",
    "params_total",
    "structural_sparsity",
    "weight_sparsity",
    "heads_per_layer",
    "neurons_per_layer",
    "layers_clamped_to_min_heads",
)


class GridError(ValueError):
    """A grid branch or its outputs are unusable; the message names the branch and the file."""


# --------------------------------------------------------------------------------------------------
# Branches


DEFAULT_METHOD = "block_movement"


def branch_id(
    sparsity: float | None,
    kd: bool,
    precision: str,
    method: str = DEFAULT_METHOD,
    calibration: int | None = None,
) -> str:
    """`s50-kd-fp32` for block movement (the paper's grid), `wanda-c1-s50-kd-fp32` for others,
    `nas-kd-fp32` for a method that chooses its own size (no sparsity)."""
    level = "" if sparsity is None else f"s{round(sparsity * 100):02d}-"
    plain = f"{level}{'kd' if kd else 'ce'}-{'amp' if precision != 'fp32' else 'fp32'}"
    prefix = "" if method == DEFAULT_METHOD else f"{method}-"
    return prefix + (f"c{calibration}-" if calibration is not None else "") + plain


def _accepts(method: str, sparsity: float) -> bool:
    try:
        prune_method(method).config().check_sparsity("target_sparsity", sparsity)
    except ConfigError:
        return False
    return True


def _sparsities(method: str, sparsities: list[float]) -> list[float | None]:
    """The grid's sparsities the method accepts; one point (None) for a method that chooses its own
    size (`uses_target_sparsity` false): every sparsity would give the same model."""
    if not prune_method(method).uses_target_sparsity:
        return [None]
    return [s for s in sparsities if _accepts(method, s)]


def _calibration_points(method: str, calibration: list[list[str]]) -> list[tuple[int, list[str]] | None]:
    """(index, sources) of each calibration point for a method that calibrates; one point (None) for
    a method that does not: each point would give the same model."""
    if not prune_method(method).calibrates or not calibration:
        return [None]
    return list(enumerate(calibration))


def branches(cfg: RunConfig) -> list[dict[str, Any]]:
    """Every (method, calibration, sparsity, KD, precision) of `cfg.grid` that gives its own model, as
    plain dicts (KFP ParallelFor items): a sparsity a method does not accept is left out, and the
    axes a method ignores (`PruneMethod.uses_target_sparsity`, `calibrates`) have one point for it."""
    g = cfg.grid
    items = []
    for method in g.methods:
        for point in _calibration_points(method, g.calibration):
            for s in _sparsities(method, g.sparsities):
                for kd in g.distillation:
                    for p in g.precisions:
                        index, sources = point if point is not None else (None, None)
                        item = {
                            "id": branch_id(s, kd, p, method, index),
                            "sparsity": None if s is None else float(s),
                            "kd": bool(kd),
                        }
                        item["precision"] = p
                        # The paper's grid (block movement, no calibration axis) keeps its 4 keys.
                        if method != DEFAULT_METHOD:
                            item["method"] = method
                        if sources is not None:
                            item["calibration"] = list(sources)
                        items.append(item)
    return items


def branch_config(cfg: RunConfig, branch: dict[str, Any]) -> RunConfig:
    """The run config of one branch: its method (block movement by default) at the branch's sparsity
    (a branch without one keeps prune.target_sparsity: its method does not read it), its calibration
    sources, KD weight from prune.block_movement.alpha / finetune_amp.alpha or 0 without KD,
    finetune_amp in the branch's precision."""
    missing = {"id", "sparsity", "kd", "precision"} - set(branch)
    if missing:
        raise GridError(f"grid branch {branch!r} lacks {sorted(missing)}")
    method = branch.get("method") or DEFAULT_METHOD
    values = cfg.to_dict()
    values["prune"].update(method=method, head_sparsity=None, ffn_sparsity=None)
    if branch["sparsity"] is not None:
        values["prune"]["target_sparsity"] = branch["sparsity"]
    values["prune"]["block_movement"]["alpha"] = cfg.prune.block_movement.alpha if branch["kd"] else 0.0
    if branch.get("calibration"):
        values["prune"]["calibration"]["sources"] = list(branch["calibration"])
    values["finetune_amp"].update(
        precision=branch["precision"], alpha=cfg.finetune_amp.alpha if branch["kd"] else 0.0
    )
    return config_from_dict(values)


# --------------------------------------------------------------------------------------------------
# One row per branch


def _results_rows(results_dir: str | Path, branch: str) -> list[dict[str, Any]]:
    path = Path(results_dir) / "results.json"
    if not path.is_file():
        raise GridError(f"grid branch {branch}: {path} is missing; the benchmark step did not finish")
    return json.loads(path.read_text(encoding="utf-8"))["rows"]


def _pick(rows: list[dict[str, Any]], role: str, runtime: str, branch: str) -> dict[str, Any]:
    found = [r for r in rows if r.get("role") == role and r.get("runtime") == runtime]
    if not found:
        have = sorted({f"{r.get('role')}/{r.get('runtime')}" for r in rows})
        raise GridError(
            f"grid branch {branch}: no {role} row in runtime {runtime!r} in results.json (have {have}); "
            "keep 'onnx' in benchmark.runtimes"
        )
    return found[0]


def branch_row(
    branch: dict[str, Any],
    pruned_dir: str | Path,
    student_dir: str | Path,
    results_dir: str | Path,
    runtime: str = "onnx",
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the branch's row, the teacher's row) from the prune and finetune-amp metrics and the
    benchmark results (the student and the teacher as measured in the same rounds)."""
    rows = _results_rows(results_dir, branch["id"])
    student, teacher = (
        _pick(rows, "student", runtime, branch["id"]),
        _pick(rows, "teacher", runtime, branch["id"]),
    )
    pruned, tuned = read_metrics(pruned_dir), read_metrics(student_dir)
    row = {
        "branch": branch["id"],
        "method": branch.get("method") or DEFAULT_METHOD,
        "calibration": "+".join(branch.get("calibration") or []) or None,
        "sparsity": branch["sparsity"],
        "kd": branch["kd"],
        "precision_requested": branch["precision"],
        "precision_ran": tuned.get("precision", "?"),
        "precision_reason": tuned.get("precision_reason", ""),
        "runtime": runtime,
        **{k: student.get(k) for k in COLUMNS if k in student},
        "structural_sparsity": pruned.get("structural_sparsity"),
        "weight_sparsity": pruned.get("weight_sparsity"),
        "heads_per_layer": pruned.get("heads_per_layer_after"),
        "neurons_per_layer": pruned.get("neurons_per_layer_after"),
        "layers_clamped_to_min_heads": pruned.get("layers_clamped_to_min_heads", []),
        **_paired_bounds(results_dir, student.get("name"), teacher.get("name")),
    }
    return row, {k: teacher.get(k) for k in COLUMNS if k in teacher} | {"branch": "teacher"}


def _paired_bounds(results_dir: str | Path, student: str, teacher: str) -> dict[str, Any]:
    """The branch's paired difference to the teacher on the same test rows (the statistic of the gate
    and the NAS selection): {"accuracy_delta_low", "accuracy_delta_high", "accuracy_delta_bounds"}."""
    from slimnlp.benchmark.paired import paired_of_packed

    correct = (
        json.loads((Path(results_dir) / "results.json").read_text(encoding="utf-8")).get("correct") or {}
    )
    paired = paired_of_packed(correct.get(student), correct.get(teacher))
    if paired is None:
        return {}
    return {
        "accuracy_delta_low": paired.low,
        "accuracy_delta_high": paired.high,
        "accuracy_delta_bounds": f"{paired.low:+.4f} .. {paired.high:+.4f} ({paired.confidence:.0%})",
    }


def write_branch_row(branch: dict[str, Any], pruned_dir, student_dir, results_dir, out_dir) -> dict[str, Any]:
    """Write `row.json` ({"row": ..., "teacher": ...}) into out_dir and return it."""
    row, teacher = branch_row(branch, pruned_dir, student_dir, results_dir)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    payload = {"row": row, "teacher": teacher}
    (out / ROW_FILE).write_text(json.dumps(payload, indent=2), encoding="utf-8")
    return payload


# --------------------------------------------------------------------------------------------------
# The table and the plot


def read_rows(row_dirs: list[str | Path]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(branch rows sorted by sparsity/KD/precision, the teacher row with median latencies)."""
    payloads = []
    for directory in row_dirs:
        path = Path(directory) / ROW_FILE
        if not path.is_file():
            raise GridError(f"{path} is missing: a grid branch did not write its row")
        payloads.append(json.loads(path.read_text(encoding="utf-8")))
    if not payloads:
        raise GridError("no grid rows to collect: grid.sparsities/distillation/precisions gave no branch")
    rows = sorted(
        (p["row"] for p in payloads),
        key=lambda r: (
            r.get("method") or DEFAULT_METHOD,
            r.get("calibration") or "",
            -1 if r["sparsity"] is None else r["sparsity"],
            r["kd"],
            r["precision_requested"],
        ),
    )
    teacher = dict(payloads[0]["teacher"])
    for key in ("latency_b1_p50_ms", "latency_b32_p50_ms"):
        values = sorted(p["teacher"][key] for p in payloads if p["teacher"].get(key) is not None)
        if values:  # measured once per branch, beside that branch's student: report the median
            teacher[key] = values[len(values) // 2]
    return rows, teacher


def markdown_table(rows: list[dict[str, Any]], teacher: dict[str, Any]) -> str:
    cells = [[cell(row.get(c)) for c in COLUMNS] for row in [teacher, *rows]]
    return "\n".join(markdown_lines(list(COLUMNS), cells))


def plot_accuracy_vs_latency(rows: list[dict[str, Any]], teacher: dict[str, Any], path: Path) -> Path:
    """Accuracy vs. batch-32 latency, one point per branch (and the teacher), area ~ size on disk."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5.5))
    biggest = max((r.get("size_bytes") or 1) for r in [teacher, *rows])
    for row in [teacher, *rows]:
        x, y = row.get("latency_b32_p50_ms"), row.get("accuracy")
        if x is None or y is None:
            continue
        size = 40 + 400 * (row.get("size_bytes") or 0) / biggest
        is_teacher = row["branch"] == "teacher"
        marker = "*" if is_teacher else ("o" if row.get("kd") else "s")
        level = row["sparsity"] if row.get("sparsity") is not None else row.get("structural_sparsity") or 0
        color = "black" if is_teacher else plt.cm.viridis(level / 0.8)
        ax.scatter(x, y, s=size, marker=marker, color=color, alpha=0.7, edgecolors="k")
        ax.annotate(row["branch"], (x, y), fontsize=7, xytext=(4, 4), textcoords="offset points")
    levels = sorted({r["sparsity"] for r in rows if r["sparsity"] is not None})
    handles = [
        plt.Line2D([], [], marker="o", linestyle="", color=plt.cm.viridis(s / 0.8), label=f"{s:.0%} pruned")
        for s in levels
    ]
    ax.legend(handles=handles, loc="lower right", fontsize=8)
    ax.set_xlabel("latency, batch 32, p50 (ms, ONNX Runtime)")
    ax.set_ylabel("test accuracy")
    ax.set_title("Grid: accuracy vs latency (area = size on disk; o = KD, s = CE, * = teacher)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_grid_report(row_dirs: list[str | Path], out_dir: str | Path) -> dict[str, Any]:
    """grid.md, grid.csv, grid.json and grid.png in out_dir; returns {"rows", "teacher", "files"}."""
    rows, teacher = read_rows(row_dirs)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "markdown": out / "grid.md",
        "csv": out / "grid.csv",
        "json": out / "grid.json",
        "plot": out / "grid.png",
    }
    notes = sorted(
        {f"{r['precision_requested']} ran as {r['precision_ran']}: {r['precision_reason']}" for r in rows}
    )
    files["markdown"].write_text(
        "# Grid results\n\n"
        + markdown_table(rows, teacher)
        + "\n\nPrecision:\n"
        + "".join(f"- {n}\n" for n in notes),
        encoding="utf-8",
    )
    with open(files["csv"], "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for row in [teacher, *rows]:
            writer.writerow(
                {c: cell(row.get(c)) if isinstance(row.get(c), list) else row.get(c) for c in COLUMNS}
            )
    files["json"].write_text(json.dumps({"rows": rows, "teacher": teacher}, indent=2), encoding="utf-8")
    plot_accuracy_vs_latency(rows, teacher, files["plot"])
    return {"rows": rows, "teacher": teacher, "files": {k: str(v) for k, v in files.items()}}
