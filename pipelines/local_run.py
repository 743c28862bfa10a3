"""Run the compress pipeline on this machine with kfp.local, all steps under one MLflow parent run.

    slimnlp run --set data.max_train_rows=100

Every task runs as a subprocess of this Python (SubprocessRunner(use_venv=False)), so the steps
use the installed slimnlp. Task outputs land in `<run dir>/kfp/<pipeline>-<timestamp>/<task>/`;
the pipeline returns the benchmark output, whose results are copied to `<run dir>/report/`.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from slimnlp.config import RunConfig

ANSI = re.compile(r"\x1b\[[0-9;]*m")


class PipelineFailed(RuntimeError):
    """A task of the local pipeline run failed; its log was streamed above."""


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


# --------------------------------------------------------------------------------------------------
# Running


def run_local(cfg: RunConfig) -> LocalRun:
    """Run the whole pipeline locally; raises PipelineFailed (parent run marked FAILED) on a failure."""
    from kfp import local

    from slimnlp.mlops.tracking import parent_run, tracking_uri
    from slimnlp_pipelines.compress import build_pipeline

    # Images, resources and display names only matter on a cluster; kfp.local says so per task.
    warnings.filterwarnings("ignore", message=r".*no effect in the current local runner.*")
    warnings.filterwarnings("ignore", message=r".*non-Python base image.*")

    run_dir = cfg.run_dir.resolve()
    pipeline_root = run_dir / "kfp"
    local.init(
        runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(pipeline_root), raise_on_error=True
    )
    # Retries are for evicted pods on a cluster; kfp.local honours them too, and a step that failed
    # here (bad input, a bug) fails again after minutes of backoff.
    pipeline_cfg = dataclasses.replace(cfg, kubernetes=dataclasses.replace(cfg.kubernetes, retries=0))
    if cfg.grid.enabled:  # the paper's grid: one teacher, a ParallelFor of branches, one table
        from slimnlp_pipelines.grid import build_grid_pipeline

        pipeline = build_grid_pipeline(pipeline_cfg)
    else:
        pipeline = build_pipeline(pipeline_cfg)
    uri = tracking_uri(cfg)
    started = time.perf_counter()
    before = set(pipeline_root.glob("*")) if pipeline_root.exists() else set()
    with parent_run(cfg) as parent_id:
        run = LocalRun(run_dir=run_dir, parent_run_id=parent_id, tracking_uri=uri, config=cfg)
        try:
            task = pipeline(config_json=cfg.to_json(), parent_run_id=parent_id, tracking_uri=uri)
        except RuntimeError as err:
            run.wall_s = time.perf_counter() - started
            run.pipeline_dir = _new_pipeline_dir(pipeline_root, before)
            raise PipelineFailed(_failure_message(err, run)) from err
    run.wall_s = time.perf_counter() - started
    # The pipeline returns the benchmark task's output: <pipeline_root>/<pipeline run>/benchmark/results.
    run.results_dir = Path(task.output.path)
    run.pipeline_dir = run.results_dir.parent.parent
    run.steps = step_times(run.pipeline_dir)
    run.report_dir = write_report(run)
    return run


def _new_pipeline_dir(pipeline_root: Path, before: set[Path]) -> Path | None:
    created = [p for p in pipeline_root.glob("*") if p.is_dir() and p not in before]
    return max(created, key=lambda p: p.stat().st_mtime) if created else None


def _failure_message(err: RuntimeError, run: LocalRun) -> str:
    text = ANSI.sub("", str(err))
    failed = re.search(r"Inner task failed: '([^']+)'", text)
    where = f"step {failed.group(1)!r}" if failed else "a step"
    try:  # the step's own message (file, column, key...) is worth more than "see the log above"
        from slimnlp.mlops.tracking import step_errors

        errors = step_errors(run.config, run.parent_run_id) if run.config is not None else {}
    except Exception:  # noqa: BLE001 - the summary must not hide the original failure
        errors = {}
    if errors:
        where += ": " + "; ".join(errors.values())
    return (
        f"the pipeline failed in {where} (its log is above); MLflow parent run {run.parent_run_id} "
        f"is marked FAILED; outputs so far are in {run.pipeline_dir or run.run_dir}"
    )


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
        outputs = ", ".join(str(p) for p in info.get("outputs", {}).values())
        lines.append(f"  {name:<14}{wall_text}   {outputs}")
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
    print("\nStep wall time and outputs:")
    print(steps_table(run))
    print_promotion(run)
    print(f"\nMLflow parent run: {run.parent_run_id}  (tracking URI {run.tracking_uri})")
    print(f"  {mlflow_ui_command(run.tracking_uri)}")
    print(f"Artifacts: {run.pipeline_dir}  (one folder per step)")
    print(f"Report:    {run.report_dir}")
