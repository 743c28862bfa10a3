"""Tables and plot of the calibration study (benchmarks/calibration_study.py): study.md, study.json,
study.png in the output folder, all three logged to MLflow (SQLite in the same folder)."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

SOURCE_NAMES = {
    "train": "SHC train",
    "marathi": "Marathi corpus",
    "hindi": "Hindi corpus",
    "mix": "Marathi+Hindi",
}


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _grid_table(rows: list[dict[str, Any]], key: str, recovered: str | None, digits: int) -> list[str]:
    sources = ["train", "marathi", "hindi", "mix"]
    lines = ["| method | level | " + " | ".join(SOURCE_NAMES[s] for s in sources) + " |"]
    lines.append("|---|---|" + "---|" * len(sources))
    for method in ("magnitude", "wanda", "sparsegpt"):
        for level in ("50", "60", "70", "2:4"):
            cells = []
            for source in sources:
                found = [r for r in rows if r["method"] == method and r["level"] == level]
                found = [r for r in found if r["source"] in (source, "-")]
                if not found or found[0].get(key) is None:
                    cells.append("missing")
                    continue
                text = _fmt(found[0][key], digits)
                if recovered and found[0].get(recovered) is not None:
                    text += f" / {_fmt(found[0][recovered], digits)}"
                cells.append(text)
            label = level if ":" in level else f"{level}%"
            lines.append(f"| {method} | {label} | " + " | ".join(cells) + " |")
    return lines


def _structured_table(speed: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| method | FLOPs cut (target / measured) | acc one-shot / +1 epoch KD | prune s | heads per layer | "
        "int8 b1 ms | int8 speed-up b1 | int8 speed-up b32 | speed-up b32 after KD |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in speed:
        if r["method"] == "teacher":
            lines.append(f"| teacher | - | - | - | - | {_fmt(r['int8_b1_p50_ms'], 2)} | 1 | 1 | - |")
            continue
        if r["cut"] is None:  # a trained student (block movement) timed in the same rounds
            lines.append(
                f"| {r['method']} (trained) | - | - / {_fmt(r['accuracy'])} | - | - | {_fmt(r['int8_b1_p50_ms'], 2)} | "
                f"{_fmt(r['int8_speedup_b1'], 2)} | - | {_fmt(r['int8_speedup_b32'], 2)} |"
            )
            continue
        lines.append(
            f"| {r['method']} | {r['cut']}% / {r['flops_reduction']:.1%} | {_fmt(r['accuracy'])} / "
            f"{_fmt(r.get('recovered_accuracy'))} | {r['prune_seconds']:.1f} | {'/'.join(map(str, r['heads']))} | "
            f"{_fmt(r['int8_b1_p50_ms'], 2)} | {_fmt(r['int8_speedup_b1'], 2)} | {_fmt(r['int8_speedup_b32'], 2)} | "
            f"{_fmt(r.get('recovered_int8_speedup_b32'), 2)} |"
        )
    return lines


def plot(rows: list[dict[str, Any]], dense: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    levels = [lv for lv in ("50", "60", "70", "2:4") if any(r["level"] == lv for r in rows)]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    for ax, key, title in (
        (axes[0], "accuracy", "test accuracy (SHC)"),
        (axes[1], "perplexity", "held-out Marathi MLM perplexity"),
    ):
        for method, style in (("wanda", "-"), ("sparsegpt", "--"), ("magnitude", ":")):
            for source in ["-"] if method == "magnitude" else ["train", "marathi", "hindi", "mix"]:
                ys = [
                    next(
                        (
                            r.get(key)
                            for r in rows
                            if (r["method"], r["level"], r["source"]) == (method, lv, source)
                        ),
                        None,
                    )
                    for lv in levels
                ]
                if all(y is None for y in ys):
                    continue
                label = f"{method} ({SOURCE_NAMES.get(source, 'no calibration')})"
                ax.plot(
                    levels, [y if y is not None else float("nan") for y in ys], style, marker="o", label=label
                )
        if dense.get(key) is not None:
            ax.axhline(dense[key], color="black", linewidth=0.8, label="dense")
        ax.set_xlabel("sparsity (unstructured %) / pattern")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    axes[1].set_yscale("log")
    for ax in axes:  # the legend where there are lines (a run may hold only the masked-LM half)
        if ax.get_lines():
            ax.legend(fontsize=6, ncol=2)
            break
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_report(
    out: Path, dense: dict[str, Any], rows: list[dict[str, Any]], speed: list[dict[str, Any]]
) -> Path:
    seconds = {}  # the classifier's time to prune, else the MLM model's (same shapes)
    for m in ("magnitude", "wanda", "sparsegpt"):
        found = [r.get("prune_seconds") or r.get("mlm_prune_seconds") for r in rows if r["method"] == m]
        if any(found):
            seconds[m] = statistics.median(t for t in found if t)
    text = [
        "# Calibration study",
        "",
        f"Dense teacher: test accuracy {_fmt(dense.get('accuracy'))}; MLM model: held-out perplexity {_fmt(dense.get('perplexity'), 1)}.",
        f"Median seconds to prune (classifier, else MLM model; 2 shared, heavily loaded cores): {', '.join(f'{m} {s:.1f} s' for m, s in seconds.items())}.",
        "",
        "## Test accuracy (one-shot / after one epoch of KD recovery, zeros kept)",
        "",
        *_grid_table(rows, "accuracy", "recovered_accuracy", 3),
        "",
        "## Held-out Marathi masked-LM perplexity of the MLM model pruned the same way",
        "",
        *_grid_table(rows, "perplexity", None, 1),
    ]
    if speed:
        text += [
            "",
            "## Structured one-shot vs importance pruning (ONNX Runtime int8, 2 threads, length 48)",
            "",
            *_structured_table(speed),
        ]
    out.mkdir(parents=True, exist_ok=True)
    (out / "study.md").write_text("\n".join(text) + "\n", encoding="utf-8")
    (out / "study.json").write_text(
        json.dumps({"dense": dense, "rows": rows, "structured": speed}, indent=1), encoding="utf-8"
    )
    plot(rows, dense, out / "study.png")
    _log(out)
    print("\n".join(text), flush=True)
    return out / "study.md"


def _log(out: Path) -> None:
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{(out / 'mlflow.db').resolve()}")
    mlflow.set_experiment("calibration-study")
    with mlflow.start_run(run_name="calibration-study"):
        for name in ("study.md", "study.json", "study.png"):
            mlflow.log_artifact(str(out / name))
