"""What the KFP UI shows of a run's results, read from the benchmark's and promote's output folders.

    html = report_html(results_dir)                       # report.html, self-contained
    figures = headline_figures(results_dir)               # {"student_accuracy": 0.87, ...}
    labels, matrix = student_confusion(results_dir)       # the student's test-set confusion matrix
    text = decision_markdown(decision_dir)                # the promotion decision with the gate's figures

The components (benchmark, promote) only copy these into `Output[HTML]`, `Output[Metrics]`,
`Output[ClassificationMetrics]` and `Output[Markdown]`. Plain Python: no kfp, no torch.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any


def _results(results_dir: str | Path) -> dict[str, Any]:
    return json.loads((Path(results_dir) / "results.json").read_text(encoding="utf-8"))


def _student_row(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The student's ONNX row (what promote registers), else its first row."""
    students = [r for r in rows if r.get("role") == "student" or str(r.get("name", "")).startswith("student")]
    onnx = [r for r in students if r.get("runtime") == "onnx"]
    return (onnx or students or [None])[0]


def report_html(results_dir: str | Path) -> str:
    """The benchmark's report.html; a short page pointing at results.md when there is none."""
    path = Path(results_dir) / "report.html"
    if path.is_file():
        return path.read_text(encoding="utf-8")
    return f"<html><body><p>No report.html in {results_dir}; see results.md beside it.</p></body></html>"


def results_markdown(results_dir: str | Path) -> str:
    """The benchmark's results.md (the table of every variant)."""
    path = Path(results_dir) / "results.md"
    return path.read_text(encoding="utf-8") if path.is_file() else f"No results.md in {results_dir}.\n"


def headline_figures(results_dir: str | Path) -> dict[str, float]:
    """Teacher and student accuracy and macro-F1, the student's size and latency ratios to the teacher."""
    rows = _results(results_dir).get("rows", [])
    student = _student_row(rows)
    teacher = next((r for r in rows if r.get("name") == f"teacher-{(student or {}).get('runtime')}"), None)
    teacher = teacher or next((r for r in rows if str(r.get("name", "")).startswith("teacher")), None)
    figures: dict[str, float] = {}
    for role, row in (("teacher", teacher), ("student", student)):
        for key in ("accuracy", "macro_f1", "size_bytes", "latency_b1_p50_ms", "latency_b32_p50_ms"):
            value = (row or {}).get(key)
            if isinstance(value, int | float) and math.isfinite(value):
                figures[f"{role}_{key}"] = float(value)
    for key in ("latency_b1_p50_ms", "latency_b32_p50_ms", "size_bytes"):
        ours, theirs = figures.get(f"student_{key}"), figures.get(f"teacher_{key}")
        if ours and theirs:
            figures[f"teacher_over_student_{key.removesuffix('_ms')}"] = round(theirs / ours, 3)
    return figures


def student_confusion(results_dir: str | Path) -> tuple[list[str], list[list[int]]]:
    """The student's confusion matrix on the test set (rows: true label, columns: predicted)."""
    results = _results(results_dir)
    student = _student_row(results.get("rows", []))
    if student is None or student["name"] not in results.get("confusion", {}):
        raise ValueError(f"{results_dir}/results.json has no student confusion matrix")
    id2label = {int(k): v for k, v in results["id2label"].items()}
    labels = [str(id2label[i]) for i in sorted(id2label)]
    return labels, [[int(x) for x in row] for row in results["confusion"][student["name"]]]


def decision_markdown(decision_dir: str | Path) -> str:
    """The promotion decision as Markdown: verdict, version and aliases, each gate check with its
    figures, and the run's ids (MLflow parent run, KFP run)."""
    decision = json.loads((Path(decision_dir) / "decision.json").read_text(encoding="utf-8"))
    lines = ["# Promotion decision", ""]
    if not decision.get("registered", True):
        lines.append(f"Not registered: {decision.get('reason', 'registry.enabled is false')}.")
    else:
        verdict = (
            "**promoted to champion**"
            if decision.get("promoted")
            else "**not promoted** (champion unchanged)"
        )
        lines.append(f"`{decision.get('name')}` version {decision.get('version')} is challenger; {verdict}.")
        lines += ["", "| check | passed | figures |", "|---|---|---|"]
        for check in decision.get("checks", []):
            lines.append(
                f"| {check.get('name')} | {'yes' if check.get('passed') else 'no'} | {check.get('detail')} |"
            )
    ids = {k: v for k, v in decision.get("lineage", {}).items() if v}
    if ids:
        lines += ["", "| run | id |", "|---|---|"] + [f"| {k} | {v} |" for k, v in sorted(ids.items())]
    return "\n".join(lines) + "\n"
