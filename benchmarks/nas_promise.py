"""Promised vs achieved for one NAS run (issue 29): what the prune step's choice promised on the
selection rows of dev, what each recovered candidate showed there, and what the student reached on
test against the teacher, each as a paired difference with its bounds (slimnlp.benchmark.paired).

    python benchmarks/nas_promise.py --run runs/nas-mahasent-short/nas-mahasent     # after `slimnlp run`

Reads the run's kfp task outputs (prune/model/metrics.json, select-student/model/candidates_artifacts,
benchmark/results/results.json) and prints one Markdown table; writes nothing.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from slimnlp.benchmark.paired import paired_of_packed


def _latest(run: Path, task: str, output: str) -> Path | None:
    found = sorted(run.glob(f"kfp/*/{task}/{output}"), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None


def _bounds(d: float, low: float, high: float) -> str:
    return f"{d:+.4f} ({low:+.4f} .. {high:+.4f})"


def promise_rows(run: Path) -> list[list[str]]:
    """Rows: [what, where, rows, difference (bounds)]."""
    rows = []
    pruned = _latest(run, "prune", "model")
    if pruned is not None:
        m = json.loads((pruned / "metrics.json").read_text(encoding="utf-8"))
        if "nas_selected_delta_low" in m:
            rows.append([
                f"front pick `{m['nas_selected']}` (shared weights)", "dev selection rows",
                str(m.get("nas_selection_rows", "?")),
                _bounds(m["nas_selected_delta_vs_teacher"], m["nas_selected_delta_low"], m["nas_selected_delta_high"]),
            ])  # fmt: skip
    student = _latest(run, "select-student", "model")
    if student is not None:
        choice = json.loads(
            (student / "candidates_artifacts" / "candidates.json").read_text(encoding="utf-8")
        )
        for r in sorted(choice["candidates"], key=lambda r: r["latency_ms"]):
            p = r["paired"]
            mark = " = student" if r["index"] == choice["student"] else ""
            rows.append([
                f"candidate {r['index']} `{r['arch']}` after {r['stage']}{mark}", "dev selection rows",
                str(p["rows"]), _bounds(p["difference"], p["low"], p["high"]),
            ])  # fmt: skip
    results = _latest(run, "benchmark", "results")
    if results is not None:
        payload = json.loads((results / "results.json").read_text(encoding="utf-8"))
        correct = payload.get("correct") or {}
        for runtime in ("onnx", "onnx-int8"):
            paired = paired_of_packed(correct.get(f"student-{runtime}"), correct.get(f"teacher-{runtime}"))
            if paired is not None:
                rows.append([
                    f"student, {runtime}", "test", str(paired.rows),
                    _bounds(paired.difference, paired.low, paired.high),
                ])  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, required=True, help="the run directory (runs/<output>/<name>)")
    args = parser.parse_args()
    rows = promise_rows(args.run)
    if not rows:
        raise SystemExit(f"{args.run}: no prune, select-student or benchmark output found under kfp/")
    print("| what | scored on | rows | difference vs teacher (90% bounds) |\n|---|---|---:|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
