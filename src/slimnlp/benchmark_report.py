"""The benchmark's report: results.json, results.md, results.csv, plots, and a terminal table.

    from slimnlp.benchmark_report import format_table
    print(format_table(json.load(open("runs/x/bench/results.json"))))

Everything here reads the `results` dict built by `slimnlp.benchmark.benchmark_models`; nothing
measures. Plots use matplotlib's Agg backend (no display in pods).
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

RESULTS_JSON, RESULTS_MD, RESULTS_CSV = "results.json", "results.md", "results.csv"
PLOT_FILE = "accuracy_vs_latency.png"
RUNTIME_COLOURS = {"pytorch": "tab:blue", "onnx": "tab:orange", "onnx-int8": "tab:green"}


def _speedup_key(results: dict[str, Any]) -> str:
    return f"speedup_vs_teacher_b{results['reference_batch_size']}"


def _fmt(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


# --------------------------------------------------------------------------------------------------
# Tables


def format_table(results: dict[str, Any]) -> str:
    """A compact fixed-width table for the terminal, one line per variant."""
    batch = results["reference_batch_size"]
    has_b1 = any("latency_b1_p50_ms" in row for row in results["rows"])
    width = max([len("variant")] + [len(row["name"]) for row in results["rows"]])
    header = (
        f"{'variant':<{width}}  {'runtime':<9}  {'acc':>6}  {'macroF1':>7}  {'params':>9}  "
        f"{'size MB':>8}  {'b1 p50':>8}  {f'b{batch} p50':>9}  {'speed-up':>8}"
    )
    lines = [header, "-" * len(header)]
    for row in results["rows"]:
        b1 = _fmt(row.get("latency_b1_p50_ms"), ".2f") if has_b1 else "-"
        speedup = row.get(_speedup_key(results))
        lines.append(
            f"{row['name']:<{width}}  {row['runtime']:<9}  {row['accuracy']:>6.4f}  {row['macro_f1']:>7.4f}  "
            f"{row['params_total']:>9,}  {row['size_mb']:>8.2f}  {b1:>8}  "
            f"{row[f'latency_b{batch}_p50_ms']:>9.2f}  {_fmt(speedup, '.2f') + ('x' if speedup else ''):>8}"
        )
    env = results["environment"]
    lines.append(
        f"ms per batch of {results['config']['sequence_length']} tokens; {env['threads']} threads; "
        f"{env['cpu_model']}; speed-up vs the teacher in the same runtime"
    )
    return "\n".join(lines)


def _markdown_table(results: dict[str, Any]) -> list[str]:
    batch = results["reference_batch_size"]
    columns = [
        ("Variant", "name", "s"),
        ("Runtime", "runtime", "s"),
        ("Role", "role", "s"),
        ("Accuracy", "accuracy", ".4f"),
        ("Macro-F1", "macro_f1", ".4f"),
        ("Δ acc vs teacher", "accuracy_delta_vs_teacher", "+.4f"),
        ("Agreement w/ teacher", "agreement_with_teacher", ".3f"),
        ("Params", "params_total", ","),
        ("Size MB", "size_mb", ".2f"),
        ("GFLOPs/seq", "gflops_per_sequence", ".3f"),
    ]
    for size in results["config"]["batch_sizes"]:
        columns += [
            (f"b{size} p50 ms", f"latency_b{size}_p50_ms", ".2f"),
            (f"b{size} p95 ms", f"latency_b{size}_p95_ms", ".2f"),
            (f"b{size} seq/s", f"throughput_b{size}", ".1f"),
        ]
    columns += [
        (f"Speed-up b{batch}", f"speedup_vs_teacher_b{batch}", ".2f"),
        ("Peak RSS MB", "peak_rss_mb", ".0f"),
        ("Δ RSS MB", "peak_rss_delta_mb", ".0f"),
        ("Pareto", "pareto", "s"),
    ]
    lines = [
        "| " + " | ".join(title for title, _, _ in columns) + " |",
        "|" + "|".join("---" for _ in columns) + "|",
    ]
    for row in results["rows"]:
        cells = [
            _fmt(row.get(key), spec) if spec != "s" else str(row.get(key, "-")) for _, key, spec in columns
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def markdown(results: dict[str, Any]) -> str:
    """results.md: environment, method, the table, per-class F1."""
    env, cfg = results["environment"], results["config"]
    flags = ", ".join(flag for flag, present in env["isa_flags"].items() if present) or "none of interest"
    lines = [
        "# Benchmark",
        "",
        f"- CPU: {env['cpu_model']} ({env['cpus_available']} CPUs available); ISA: {flags}",
        f"- Threads (pinned): {env['threads']}; torch {env['torch']}, onnxruntime {env['onnxruntime']}, "
        f"transformers {env['transformers']}; {env['timestamp_utc']}",
        f"- Quality on {results['n_texts']} test texts (batch 32, dynamic padding). Latency of the model "
        f"call on real texts padded/truncated to {cfg['sequence_length']} tokens: {cfg['warmup']} warm-up "
        f"calls, then {cfg['rounds']} rounds x {cfg['iterations']} calls, variants interleaved.",
        f"- Speed-up and Δ accuracy: vs the teacher in the same runtime. Peak memory: {cfg['peak_memory']}.",
        "",
        *_markdown_table(results),
        "",
        "## Per-class F1",
        "",
    ]
    names = list(results["id2label"].values())
    lines += ["| Variant | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for row in results["rows"]:
        lines.append(f"| {row['name']} | " + " | ".join(f"{row[f'f1_{n}']:.4f}" for n in names) + " |")
    return "\n".join(lines) + "\n"


def write_csv(results: dict[str, Any], path: Path) -> None:
    keys: list[str] = []
    for row in results["rows"]:
        keys += [k for k in row if k not in keys]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=keys)
        writer.writeheader()
        writer.writerows(results["rows"])


# --------------------------------------------------------------------------------------------------
# Plots


def plot_accuracy_vs_latency(results: dict[str, Any], path: Path) -> None:
    """x = p50 latency at the reference batch, y = accuracy, area ∝ size on disk; Pareto front dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    batch, rows = results["reference_batch_size"], results["rows"]
    key = f"latency_b{batch}_p50_ms"
    largest = max(row["size_bytes"] for row in rows) or 1
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for row in rows:
        ax.scatter(
            row[key],
            row["accuracy"],
            s=40 + 900 * row["size_bytes"] / largest,
            alpha=0.6,
            color=RUNTIME_COLOURS.get(row["runtime"], "tab:gray"),
            marker="s" if row["role"] == "teacher" else "o",
            edgecolors="black",
        )
        ax.annotate(
            row["name"], (row[key], row["accuracy"]), textcoords="offset points", xytext=(6, 6), fontsize=8
        )
    front = sorted((row[key], row["accuracy"]) for row in rows if row.get("pareto"))
    if len(front) > 1:
        ax.plot(*zip(*front, strict=True), linestyle="--", color="gray", linewidth=1, label="Pareto front")
    for runtime, colour in RUNTIME_COLOURS.items():
        ax.scatter([], [], color=colour, label=runtime)
    ax.set_xlabel(f"p50 latency, batch {batch} x {results['config']['sequence_length']} tokens (ms)")
    ax.set_ylabel("accuracy")
    ax.set_title("Accuracy vs latency (marker area ∝ size on disk; squares = teacher)")
    ax.legend(fontsize=8, loc="best")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_confusion(matrix: list[list[int]], labels: list[str], title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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


# --------------------------------------------------------------------------------------------------


def write_reports(results: dict[str, Any], out_dir: str | Path) -> dict[str, str]:
    """Write every report file into out_dir; returns {kind: path}."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "json": out / RESULTS_JSON,
        "markdown": out / RESULTS_MD,
        "csv": out / RESULTS_CSV,
        "plot": out / PLOT_FILE,
    }
    labels = list(results["id2label"].values())
    for name, matrix in results["confusion"].items():
        files[f"confusion:{name}"] = out / confusion_file(name)
        plot_confusion(matrix, labels, f"{name}: confusion on the test set", files[f"confusion:{name}"])
    plot_accuracy_vs_latency(results, files["plot"])
    files["markdown"].write_text(markdown(results), encoding="utf-8")
    write_csv(results, files["csv"])
    paths = {kind: str(path) for kind, path in files.items()}
    files["json"].write_text(
        json.dumps(results | {"files": paths}, indent=2, default=float), encoding="utf-8"
    )
    return paths
