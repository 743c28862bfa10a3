"""The benchmark as one self-contained HTML page (styles inline, plots as base64 data URIs).

    from slimnlp.benchmark.report_html import write_html, report_from_dir
    report_from_dir("runs/x")            # finds results.json, rewrites results.md + report.html beside it

One file that opens anywhere (a browser, an MLflow artifact view, an e-mail attachment) with no
network and no sibling files. The tables are the same cells as results.md
(`slimnlp.benchmark.report`), so the two never disagree.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

from slimnlp.benchmark import report

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; max-width: 1400px; }
table { border-collapse: collapse; margin: 1rem 0; font-size: 0.85rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.5rem; text-align: right; }
th { background: #f0f0f0; } td:first-child, th:first-child { text-align: left; }
.verdict { background: #fff4d6; border-left: 4px solid #e0a800; padding: 0.5rem 1rem; }
.scroll { overflow-x: auto; } img.plot { max-width: 100%; display: block; margin: 1rem 0; }
"""


class ReportInputError(ValueError):
    """A path or run that holds no benchmark results."""


def _table(table_id: str, header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f'<div class="scroll"><table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _image(kind: str, path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    title = report.PLOT_TITLES.get(kind, kind.replace("confusion:", "Confusion matrix: "))
    return (
        f"<figure><img class='plot' id='img-{html.escape(kind.replace(':', '-'))}' "
        f"alt='{html.escape(title)}' src='data:image/png;base64,{data}'>"
        f"<figcaption>{html.escape(title)}</figcaption></figure>"
    )


def render_html(results: dict[str, Any], images: dict[str, Path]) -> str:
    """The page: verdicts, the best student vs the baselines, method, tables, plots."""
    summary = results.get("summary") or {}
    parts = ["<h1>slimnlp benchmark</h1>"]
    parts += [f"<p class='verdict'>{html.escape(v)}</p>" for v in summary.get("verdicts", [])]
    if summary.get("best_student"):
        parts.append(f"<h2>{html.escape(summary['best_student'])} vs the baselines</h2>")
        parts.append(_table("versus", report.VERSUS_HEADER, report.versus_rows(results)))
    parts.append("<h2>All variants</h2>" + _table("variants", *report.main_table(results)))
    main_plots = [k for k in report.PLOT_TITLES if k in images]
    parts += [_image(kind, images[kind]) for kind in main_plots]
    header, rows = report.length_table(results)
    if header:
        parts.append("<h2>p50 latency (ms) by sequence length</h2>" + _table("lengths", header, rows))
    if results.get("step_energy"):
        parts.append(
            "<h2>Energy of the pipeline steps</h2>" + _table("steps", *report.step_energy_table(results))
        )
    parts.append(
        "<h2>Per-class precision / recall / F1</h2>" + _table("per-class", *report.per_class_table(results))
    )
    parts += [_image(kind, path) for kind, path in images.items() if kind.startswith("confusion:")]
    parts.append(
        "<h2>Method</h2><ul>"
        + "".join(f"<li>{html.escape(x)}</li>" for x in report.method_lines(results))
        + "</ul>"
    )
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>slimnlp benchmark</title>"
        f"<style>{STYLE}</style></head><body>{''.join(parts)}</body></html>\n"
    )


def write_html(results: dict[str, Any], images: dict[str, Path], path: str | Path) -> Path:
    """Write the page to `path`; `images` maps plot kinds (as in write_plots) to PNG files."""
    path = Path(path)
    path.write_text(render_html(results, images), encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------------------
# Rebuilding a report from saved results (the `slimnlp report` verb)


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
