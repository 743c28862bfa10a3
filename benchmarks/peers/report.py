"""The peers' table (markdown), JSON and the accuracy-vs-latency plot.

    write_outputs(result, Path("runs/peers/mahasent-mr"))   # peers.md, peers.json, peers.png

`result` = {"title", "batch_size", "rows": [row], "comparisons": [compare_all record], "front": [NAS
front point] or [], "selected": arch or None, "notes": [str]}. A row: {"tool", "name", "runtime",
"group": "slimnlp" | "peer", "accuracy", "macro_f1", "accuracy_distinct", "latency_b1_p50_ms",
"latency_b32_p50_ms", "size_bytes", "peak_rss_mb", "compression_s", "versions", "error"}; a row with
"error" has no figures (its tool could not install or build) and the table says why.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

COLUMNS = (
    ("tool", "tool"),
    ("name", "model"),
    ("runtime", "runtime"),
    ("accuracy", "accuracy"),
    ("macro_f1", "macro-F1"),
    ("accuracy_distinct", "acc. distinct"),
    ("latency_b1_p50_ms", "p50 b1 ms"),
    ("latency_b32_p50_ms", "p50 b32 ms"),
    ("size_bytes", "size MB"),
    ("peak_rss_mb", "peak MB"),
    ("compression_s", "compression s"),
)


def _cell(key: str, value: Any) -> str:
    if value is None:
        return "-"
    if key == "size_bytes":
        return f"{value / 1e6:.2f}"
    if key in ("accuracy", "macro_f1", "accuracy_distinct"):
        return f"{value:.3f}"
    if isinstance(value, float):
        return f"{value:.3g}" if value < 100 else f"{value:.0f}"
    return str(value).replace("|", "/")


def _verdict_cell(record: dict[str, Any] | None) -> tuple[str, str]:
    if record is None:
        return "", ""
    lat, acc = record["equal_latency"], record["equal_accuracy"]
    if lat["slimnlp_point"] is None:
        first = f"{lat['verdict']} ({lat['why']})"
    else:
        first = f"{lat['verdict']}: {lat['slimnlp_point']} {lat['accuracy_delta']:+.3f} (noise ±{lat['accuracy_noise']:.3f})"
    if acc["slimnlp_point"] is None:
        second = f"{acc['verdict']} ({acc['why']})"
    else:
        second = f"{acc['verdict']}: {acc['slimnlp_point']} {acc['speedup']:.2f}x (noise ±{acc['latency_noise']:.0%})"
    return first, second


def markdown_table(result: dict[str, Any]) -> str:
    """One row per model (slimnlp's first), the two verdicts for every peer point, errors spelled out."""
    by_peer = {c["peer"]["name"]: c for c in result.get("comparisons", [])}
    header = [title for _, title in COLUMNS] + ["slimnlp at equal latency", "slimnlp at equal accuracy"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in result["rows"]:
        if row.get("error"):
            reason = " ".join(str(row["error"]).split())[:400].replace("|", "/")
            cells = (
                [_cell("tool", row["tool"]), "-", "-"]
                + ["-"] * (len(COLUMNS) - 3)
                + [f"not run: {reason}", ""]
            )
        else:
            cells = [_cell(key, row.get(key)) for key, _ in COLUMNS] + list(
                _verdict_cell(by_peer.get(row["name"]))
            )
        lines.append("| " + " | ".join(cells) + " |")
    notes = [f"- {note}" for note in result.get("notes", [])]
    return "\n".join([f"### {result['title']}", "", *lines, "", *notes]).rstrip() + "\n"


def plot(result: dict[str, Any], path: Path) -> Path:
    """Accuracy vs p50 latency at the reference batch size (log x): slimnlp's measured points joined,
    the NAS front (prune step, dev accuracy with shared weights) hollow, every peer point labelled."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    key = f"latency_b{result['batch_size']}_p50_ms"
    fig, ax = plt.subplots(figsize=(8, 5.5))
    front = result.get("front") or []
    if front:
        ax.scatter(
            [p["latency_ms"] for p in front],
            [p["accuracy"] for p in front],
            facecolors="none",
            edgecolors="tab:blue",
            label="slimnlp NAS front (prune step: dev acc., its own timing)",
        )
    ours = sorted(
        (r for r in result["rows"] if r["group"] == "slimnlp" and not r.get("error")), key=lambda r: r[key]
    )
    if ours:
        ax.plot(
            [r[key] for r in ours],
            [r["accuracy"] for r in ours],
            "o-",
            color="tab:blue",
            label="slimnlp (this run)",
        )
        for r in ours:
            ax.annotate(
                r["name"], (r[key], r["accuracy"]), textcoords="offset points", xytext=(5, -10), fontsize=8
            )
    markers = iter("s^Dv<>pP*hX")
    for r in result["rows"]:
        if r["group"] != "peer" or r.get("error"):
            continue
        ax.scatter(
            [r[key]], [r["accuracy"]], marker=next(markers, "x"), s=60, label=f"{r['tool']}: {r['name']}"
        )
        ax.annotate(r["tool"], (r[key], r["accuracy"]), textcoords="offset points", xytext=(5, 4), fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel(f"p50 latency at batch {result['batch_size']} (ms, log scale; same interleaved rounds)")
    ax.set_ylabel("test accuracy")
    ax.set_title(result["title"])
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_outputs(result: dict[str, Any], out_dir: Path, stem: str = "peers") -> dict[str, Path]:
    """<stem>.md, <stem>.json and <stem>.png in out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {
        "table": out_dir / f"{stem}.md",
        "json": out_dir / f"{stem}.json",
        "plot": out_dir / f"{stem}.png",
    }
    files["table"].write_text(markdown_table(result), encoding="utf-8")
    files["json"].write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
    plot(result, files["plot"])
    return files


def log_to_mlflow(files: dict[str, Path], result: dict[str, Any], tracking_uri: str, experiment: str) -> str:
    """One MLflow run with the three files and each row's headline figures; returns its id."""
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment(experiment)
    with mlflow.start_run(run_name=f"peers: {result['title']}") as run:
        for row in result["rows"]:
            if row.get("error"):
                mlflow.set_tag(f"peer.{row['tool']}.error", str(row["error"])[:4000])
                continue
            for key in ("accuracy", "macro_f1", "latency_b1_p50_ms", "latency_b32_p50_ms"):
                if row.get(key) is not None:
                    mlflow.log_metric(f"{row['name']}.{key}", float(row[key]))
        for path in files.values():
            mlflow.log_artifact(str(path), artifact_path="peers")
        return run.info.run_id
