"""What a local pipeline run leaves behind and prints: the `LocalRun` record, the step times read
from kfp.local's executor outputs, the report folder and the closing summary.

    run = run_local(cfg)          # slimnlp_pipelines.local_run
    print_summary(run)            # the benchmark (or grid) table, wall times, MLflow ids, paths
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from slimnlp.config import RunConfig


@dataclass
class LocalRun:
    """Where a local run put things, and how long each step took."""

    run_dir: Path
    parent_run_id: str
    tracking_uri: str
    pipeline_dir: Path | None = None
    results_dir: Path | None = None
    report_dir: Path | None = None
    wall_s: float = 0.0
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    config: RunConfig | None = None
    log_dir: Path | None = None
    live: bool = False  # the steps were shown as table rows while they ran (not --verbose)
    reused: tuple[str, ...] = ()


def step_times(pipeline_dir: Path) -> dict[str, dict[str, Any]]:
    """Per step: its output directory and the wall time the component logged (wall_time_s)."""
    steps: dict[str, dict[str, Any]] = {}
    from slimnlp.steps.spec import STEP_NAMES

    for name in STEP_NAMES:
        executor_output = pipeline_dir / name / "executor_output.json"
        if not executor_output.is_file():
            continue
        outputs = json.loads(executor_output.read_text(encoding="utf-8")).get("artifacts", {})
        info: dict[str, Any] = {"wall_time_s": None, "outputs": {}}
        for output_name, entry in outputs.items():
            for artifact in entry.get("artifacts", []):
                if output_name == "metrics":
                    info["wall_time_s"] = artifact.get("metadata", {}).get("wall_time_s")
                    info["metrics"] = artifact.get("metadata", {})
                else:
                    info["outputs"][output_name] = artifact.get("uri")
        steps[name] = info
    return steps


def write_report(run: LocalRun) -> Path:
    """Copy the benchmark results to <run dir>/report/ and add run.json (ids, paths, step times)."""
    report = run.run_dir / "report"
    if report.exists():
        shutil.rmtree(report)
    shutil.copytree(run.results_dir, report)
    # The promote step rewrote the report with its decision first (slimnlp.promote.report).
    for promoted in (run.steps.get("promote") or {}).get("outputs", {}).values():
        if Path(promoted, "report").is_dir():
            shutil.copytree(Path(promoted, "report"), report, dirs_exist_ok=True)
    summary = {
        "parent_run_id": run.parent_run_id,
        "tracking_uri": run.tracking_uri,
        "pipeline_dir": str(run.pipeline_dir),
        "wall_s": round(run.wall_s, 3),
        "steps": run.steps,
    }
    # Not sorted: the steps stay in DAG order.
    (report / "run.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return report


# --------------------------------------------------------------------------------------------------
# Printing


def results_table(results: dict[str, Any]) -> str:
    """The benchmark table (slimnlp.benchmark.harness.format_table); its rows as JSON if that fails."""
    try:
        from slimnlp.benchmark.harness import format_table

        return format_table(results)
    except Exception as err:  # the run is done and its results are saved: never lose the summary here
        rows = json.dumps(results.get("rows", []), indent=1, default=str)
        return f"(the benchmark table failed: {type(err).__name__}: {err}; its rows follow)\n{rows}"


def steps_table(run: LocalRun) -> str:
    lines = []
    for name, info in run.steps.items():
        wall = info.get("wall_time_s")
        wall_text = f"{wall:8.1f} s" if isinstance(wall, int | float) else "       - s"
        peak = info.get("metrics", {}).get("peak_rss_gib")
        peak_text = f"{peak:6.1f} GiB" if isinstance(peak, int | float) else "     - GiB"
        outputs = ", ".join(str(p) for p in info.get("outputs", {}).values())
        lines.append(f"  {name:<14}{wall_text}  {peak_text}   {outputs}")
    lines.append(f"  {'total':<14}{run.wall_s:8.1f} s   (pipeline wall time, including kfp.local overhead)")
    return "\n".join(lines)


def mlflow_ui_command(uri: str) -> str:
    if uri.startswith("sqlite:") or uri.startswith("file:"):
        return f"mlflow ui --backend-store-uri {uri} --host 127.0.0.1 --workers 1"
    return f"open {uri} in a browser (tracking server)"


def print_promotion(run: LocalRun) -> None:
    """The promote step's decision (version, aliases, each gate check), when the DAG has one."""
    decision_dir = run.steps.get("promote", {}).get("outputs", {}).get("decision")
    decision_file = Path(decision_dir) / "decision.json" if decision_dir else None
    if decision_file is None or not decision_file.is_file():
        return
    from slimnlp.promote.promotion import format_decision

    print("\n" + format_decision(json.loads(decision_file.read_text(encoding="utf-8"))))


def print_summary(run: LocalRun) -> None:
    results_file = run.report_dir / "results.json"
    grid_file = run.report_dir / "grid.md"
    if grid_file.is_file():  # a grid run returns the grid-collect output: the table and plot
        print(f"\nGrid ({grid_file}, plot grid.png beside it):\n")
        print(grid_file.read_text(encoding="utf-8"))
    elif results_file.is_file():
        results = json.loads(results_file.read_text(encoding="utf-8"))
        print(f"\nBenchmark ({results_file}):\n")
        print(results_table(results))
    else:
        print(f"\nBenchmark: no results.json in {run.results_dir}")
    if run.live:  # the rows above gave each step's wall time and figures
        reused = f"; reused (unchanged keys): {', '.join(run.reused)}" if run.reused else ""
        print(f"\nTotal wall time {run.wall_s:.1f} s (kfp.local overhead included){reused}")
    else:
        print("\nStep wall time and outputs:")
        print(steps_table(run))
    print_promotion(run)
    print(f"\nMLflow parent run: {run.parent_run_id}  (tracking URI {run.tracking_uri})")
    print(f"  {mlflow_ui_command(run.tracking_uri)}")
    print(f"Artifacts: {run.pipeline_dir}  (one folder per step)")
    print(f"Logs:      {run.log_dir}  (one file per step, also in each step's MLflow run)")
    print(f"Report:    {run.report_dir}")
