"""The benchmark's plots (matplotlib, Agg backend: no display in pods), read from `results`.

from slimnlp.benchmark.plots import write_plots
files = write_plots(results, "runs/x/bench")   # {"plot": ..., "size_plot": ..., "confusion:<name>": ...}
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

PLOT_FILE, SIZE_PLOT_FILE, ENERGY_PLOT_FILE = "accuracy_vs_latency.png", "size.png", "energy.png"
# The main plots by kind (the keys of write_plots), with their titles in results.md and report.html.
PLOT_TITLES = {
    "plot": "Accuracy vs latency (Pareto front)",
    "size_plot": "Size on disk",
    "energy_plot": "Energy",
}
RUNTIME_COLOURS = {
    "pytorch": "tab:blue",
    "onnx": "tab:orange",
    "onnx-int8": "tab:green",
    "sklearn": "tab:red",
}
ROLE_MARKERS = {"teacher": "s", "student": "o", "baseline": "^"}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


# --------------------------------------------------------------------------------------------------
# Plots


def plot_accuracy_vs_latency(results: dict[str, Any], path: Path) -> None:
    """x = p50 latency at the reference batch (log), y = accuracy, area ∝ size on disk; the Pareto
    front dashed. Squares are the teacher, triangles the baselines, circles the students."""
    plt = _pyplot()
    batch, rows = results["reference_batch_size"], results["rows"]
    key = f"latency_b{batch}_p50_ms"
    largest = max(row["size_bytes"] for row in rows) or 1
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    for row in rows:
        ax.scatter(
            row[key],
            row["accuracy"],
            s=40 + 900 * row["size_bytes"] / largest,
            alpha=0.6,
            color=RUNTIME_COLOURS.get(row["runtime"], "tab:gray"),
            marker=ROLE_MARKERS.get(row["role"], "o"),
            edgecolors="black",
        )
        ax.annotate(
            row["name"], (row[key], row["accuracy"]), textcoords="offset points", xytext=(6, 6), fontsize=8
        )
    front = sorted((row[key], row["accuracy"]) for row in rows if row.get("pareto"))
    if len(front) > 1:
        ax.step(*zip(*front, strict=True), where="post", linestyle="--", color="gray", label="Pareto front")
    for runtime, colour in RUNTIME_COLOURS.items():
        if any(row["runtime"] == runtime for row in rows):
            ax.scatter([], [], color=colour, label=runtime)
    ax.set_xscale("log")
    ax.set_xlabel(f"p50 latency, batch {batch} x {results['config']['sequence_length']} tokens (ms, log)")
    ax.set_ylabel("accuracy")
    ax.set_title("Accuracy vs latency (area ∝ size; ■ teacher, ▲ baseline, ● student)", fontsize=10)
    ax.legend(fontsize=8, loc="best")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _bars(names: list[str], values: list[float], colours: list[str], xlabel: str, title: str, path: Path):
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 0.8 + 0.35 * len(names)))
    ax.barh(names, values, color=colours, edgecolor="black")
    for y, value in enumerate(values):
        ax.annotate(
            f"{value:.3g}", (value, y), xytext=(4, 0), textcoords="offset points", va="center", fontsize=8
        )
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_size(results: dict[str, Any], path: Path) -> None:
    """Size on disk per row (MB)."""
    rows = results["rows"]
    _bars(
        [r["name"] for r in rows],
        [r["size_mb"] for r in rows],
        [RUNTIME_COLOURS.get(r["runtime"], "tab:gray") for r in rows],
        "size on disk (MB)",
        "Size on disk of what is served",
        path,
    )


def plot_energy(results: dict[str, Any], path: Path) -> bool:
    """Inference energy per 1,000 predictions per row, and the pipeline steps' own energy;
    False (nothing written) when nothing was measured."""
    rows = [r for r in results["rows"] if r.get("energy_kwh_per_1k") is not None]
    steps = results.get("step_energy") or {}
    if not rows and not steps:
        return False
    plt = _pyplot()
    panels = [p for p in (rows, steps) if p]
    fig, axes = plt.subplots(
        1, len(panels), figsize=(6 * len(panels), 0.9 + 0.35 * max(len(rows), len(steps)))
    )
    axes = list(axes) if len(panels) > 1 else [axes]
    if rows:
        ax = axes.pop(0)
        ax.barh(
            [r["name"] for r in rows],
            [r["energy_kwh_per_1k"] * 1000 for r in rows],  # Wh
            color=[RUNTIME_COLOURS.get(r["runtime"], "tab:gray") for r in rows],
            edgecolor="black",
        )
        ax.invert_yaxis()
        ax.set_xlabel("Wh per 1,000 predictions")
        ax.set_title("Inference energy", fontsize=10)
        ax.grid(axis="x", alpha=0.3)
    if steps:
        ax = axes.pop(0)
        ax.barh(
            list(steps),
            [s["energy_kwh"] * 1000 for s in steps.values()],
            color="tab:purple",
            edgecolor="black",
        )
        ax.invert_yaxis()
        ax.set_xlabel("Wh")
        ax.set_title("Energy of each pipeline step", fontsize=10)
        ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def plot_confusion(matrix: list[list[int]], labels: list[str], title: str, path: Path) -> None:
    plt = _pyplot()
    size = 2.5 + 0.45 * len(labels)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    for i, counts in enumerate(matrix):
        for j, count in enumerate(counts):
            ax.text(j, i, str(count), ha="center", va="center", fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def confusion_file(name: str) -> str:
    """A file-system-safe name for one variant's confusion-matrix plot."""
    return "confusion_" + re.sub(r"[^A-Za-z0-9._-]+", "_", name) + ".png"


def write_plots(results: dict[str, Any], out: Path) -> dict[str, Path]:
    """Every plot into `out`; returns {kind: path} (kinds: plot, size_plot, energy_plot, confusion:<name>)."""
    files = {"plot": out / PLOT_FILE, "size_plot": out / SIZE_PLOT_FILE}
    plot_accuracy_vs_latency(results, files["plot"])
    plot_size(results, files["size_plot"])
    if plot_energy(results, out / ENERGY_PLOT_FILE):
        files["energy_plot"] = out / ENERGY_PLOT_FILE
    labels = list(results["id2label"].values())
    for name, matrix in results["confusion"].items():
        files[f"confusion:{name}"] = out / confusion_file(name)
        plot_confusion(matrix, labels, f"{name}: confusion on the test set", files[f"confusion:{name}"])
    return files
