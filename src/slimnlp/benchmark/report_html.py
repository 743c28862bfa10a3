"""Rebuilding the report (report.html, results.md, the plots) from saved results: `slimnlp report`.

    from slimnlp.benchmark.report_html import report_from_dir, report_from_mlflow
    report_from_dir("runs/x")            # finds results.json, rewrites results.md + report.html beside it

The page itself is `slimnlp.benchmark.html_page`; writing every report file is
`slimnlp.benchmark.report.write_reports`, which both the benchmark and this rebuild call.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from slimnlp.benchmark import report


class ReportInputError(ValueError):
    """A path or run that holds no benchmark results."""


def find_results(path: str | Path) -> Path:
    """results.json in `path`, or in its report/ or benchmark/ folder (a run dir), or `path` itself."""
    path = Path(path)
    candidates = (
        [path] if path.is_file() else [path / d / report.RESULTS_JSON for d in ("", "report", "benchmark")]
    )
    for candidate in candidates:
        if candidate.is_file() and candidate.name == report.RESULTS_JSON:
            return candidate
    raise ReportInputError(
        f"{path} holds no {report.RESULTS_JSON} (looked in {', '.join(str(c) for c in candidates)}); "
        "pass a benchmark output directory, a run directory, or an MLflow run id"
    )


def report_from_dir(path: str | Path, out_dir: str | Path | None = None) -> dict[str, str]:
    """Rebuild results.md, report.html and the plots from a saved results.json (into out_dir,
    default: beside it); returns {kind: path}."""
    results_file = find_results(path)
    try:
        results = json.loads(results_file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ReportInputError(f"{results_file} is not valid JSON ({err}); re-run the benchmark") from None
    missing = [key for key in ("rows", "config", "environment", "id2label") if key not in results]
    if missing or not results.get("rows"):
        raise ReportInputError(f"{results_file} is not a benchmark result (missing {missing or ['rows']})")
    results.setdefault("summary", _summary(results))
    return report.write_reports(results, out_dir or results_file.parent)


def _summary(results: dict[str, Any]) -> dict[str, Any]:
    from slimnlp.benchmark.compare import summarise

    return summarise(results)


def report_from_mlflow(run_id: str, tracking_uri: str, out_dir: str | Path) -> dict[str, str]:
    """Rebuild the report of an MLflow run (a pipeline parent run, or its benchmark step run) into
    out_dir, and log report.html and results.md to the parent run under report/."""
    import mlflow
    from mlflow.exceptions import MlflowException

    client = mlflow.MlflowClient(tracking_uri)
    try:
        run = client.get_run(run_id)
    except MlflowException as err:
        raise ReportInputError(
            f"{run_id} is neither a directory nor an MLflow run at {tracking_uri} ({err.message}); "
            "pass a run directory, or the run id with --config/--set tracking.tracking_uri=..."
        ) from None
    benchmark_run, parent_id = run, run.data.tags.get("mlflow.parentRunId", run_id)
    if run.data.tags.get("slimnlp.step") != "benchmark":
        children = client.search_runs(
            [run.info.experiment_id],
            filter_string=f"tags.mlflow.parentRunId = '{run_id}' and tags.`slimnlp.step` = 'benchmark'",
            order_by=["attributes.start_time DESC"],
        )
        if not children:
            raise ReportInputError(f"MLflow run {run_id} at {tracking_uri} has no benchmark step run")
        benchmark_run, parent_id = children[0], run_id
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    try:
        client.download_artifacts(benchmark_run.info.run_id, report.RESULTS_JSON, str(out))
    except (MlflowException, OSError) as err:
        raise ReportInputError(
            f"benchmark run {benchmark_run.info.run_id} has no {report.RESULTS_JSON} artifact ({err})"
        ) from None
    files = report_from_dir(out, out)
    for kind in ("html", "markdown"):
        client.log_artifact(parent_id, files[kind], "report")
    return files
