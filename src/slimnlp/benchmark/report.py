"""The benchmark's report: results.json, results.md, results.csv, report.html, plots, terminal tables.

    from slimnlp.benchmark.report import format_table, format_summary
    results = json.load(open("runs/x/bench/results.json"))
    print(format_table(results)); print(format_summary(results))

Everything here reads the `results` dict built by `slimnlp.benchmark.harness.benchmark_models`; nothing
measures. The Markdown and the HTML page are built from the same cells (`slimnlp.benchmark.tables`),
so they cannot disagree; the plots are in `slimnlp.benchmark.plots`, the page in
`slimnlp.benchmark.html_page`, and rebuilding from a saved results.json in `slimnlp.benchmark.report_html`.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from slimnlp.benchmark.html_page import write_html
from slimnlp.benchmark.plots import PLOT_TITLES, write_plots
from slimnlp.benchmark.tables import (
    VERSUS_HEADER,
    cell,
    length_table,
    main_table,
    markdown_lines,
    method_lines,
    payback_words,
    per_class_table,
    step_energy_table,
    versus_rows,
)

__all__ = ["format_summary", "format_table", "markdown", "payback_words", "write_csv", "write_reports"]

RESULTS_JSON, RESULTS_MD, RESULTS_CSV, REPORT_HTML = (
    "results.json",
    "results.md",
    "results.csv",
    "report.html",
)


# --------------------------------------------------------------------------------------------------
# Tables


def format_table(results: dict[str, Any]) -> str:
    """A compact fixed-width table for the terminal, one line per variant."""
    batch = results["reference_batch_size"]
    width = max([len("variant")] + [len(row["name"]) for row in results["rows"]])
    header = (
        f"{'variant':<{width}}  {'runtime':<9}  {'acc':>6}  {'macroF1':>7}  {'params':>10}  "
        f"{'size MB':>8}  {'b1 p50':>8}  {f'b{batch} p50':>9}  {'speed-up':>8}  {'Wh/1k':>8}"
    )
    lines = [header, "-" * len(header)]
    for row in results["rows"]:
        speedup = row.get(f"speedup_vs_teacher_b{batch}")
        energy = row.get("energy_kwh_per_1k")
        lines.append(
            f"{row['name']:<{width}}  {row['runtime']:<9}  {row['accuracy']:>6.4f}  {row['macro_f1']:>7.4f}  "
            f"{row['params_total']:>10,}  {row['size_mb']:>8.2f}  {cell(row.get('latency_b1_p50_ms'), '.2f'):>8}  "
            f"{row[f'latency_b{batch}_p50_ms']:>9.2f}  {cell(speedup, '.2f') + ('x' if speedup else ''):>8}  "
            f"{cell(energy * 1000 if energy is not None else None, '.4f'):>8}"
        )
    env = results["environment"]
    lines.append(
        f"ms per batch of {results['config']['sequence_length']} tokens; {env['threads']} threads; "
        f"{env['cpu_model']}; speed-up vs the teacher in the same runtime"
    )
    return "\n".join(lines)


def format_summary(results: dict[str, Any]) -> str:
    """For `make bench`: the best student's speed-up over every baseline, Δ accuracy, payback."""
    summary = results.get("summary") or {}
    best = summary.get("best_student")
    if best is None:
        return "no student was benchmarked"
    rows = versus_rows(results)
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(VERSUS_HEADER)
    ]
    lines = [
        f"best student: {best} (batch {summary['batch_size']}; speed-ups are medians of per-round ratios)",
        "  ".join(h.ljust(w) for h, w in zip(VERSUS_HEADER, widths, strict=True)),
    ]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines + [""] + summary.get("verdicts", []))


def markdown(results: dict[str, Any], images: dict[str, str] | None = None) -> str:
    """results.md: verdicts, the best student vs every baseline, method, tables, plots (relative links)."""
    summary = results.get("summary") or {}
    lines = ["# Benchmark"]
    if results.get("decision"):  # left by the promote step (slimnlp.promote.report)
        lines += ["", "## Decision", "", f"**{results['decision']['headline']}**", ""]
        lines += [f"- {line}" for line in results["decision"]["lines"]]
    for i, verdict in enumerate(summary.get("verdicts", [])):
        lines += ["", f"**{verdict}**" if i == 0 else verdict]
    if summary.get("best_student"):
        lines += ["", f"## {summary['best_student']} vs the baselines (batch {summary['batch_size']})", ""]
        lines += markdown_lines(VERSUS_HEADER, versus_rows(results))
    lines += ["", "## Method", ""] + [f"- {line}" for line in method_lines(results)]
    lines += ["", "## All variants", "", *markdown_lines(*main_table(results))]
    if length_table(results)[0]:
        lines += ["", "## p50 latency (ms) by sequence length", "", *markdown_lines(*length_table(results))]
    for section in results.get("sections", []):  # left by earlier steps (slimnlp.benchmark.sections)
        lines += ["", f"## {section['title']}", "", section.get("text", "")]
        if section.get("header"):
            lines += ["", *markdown_lines(section["header"], section["rows"])]
        lines += [f"\n![{name}]({path})" for name, path in section.get("images", {}).items()]
    if results.get("step_energy"):
        lines += ["", "## Energy of the pipeline steps", "", *markdown_lines(*step_energy_table(results))]
    lines += ["", "## Per-class precision / recall / F1", "", *markdown_lines(*per_class_table(results))]
    for kind, name in (images or {}).items():
        lines += ["", f"![{PLOT_TITLES.get(kind, kind)}]({name})"]
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


def write_reports(results: dict[str, Any], out_dir: str | Path) -> dict[str, str]:
    """Write every report file into out_dir; returns {kind: path}."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "json": out / RESULTS_JSON,
        "markdown": out / RESULTS_MD,
        "csv": out / RESULTS_CSV,
        "html": out / REPORT_HTML,
    } | write_plots(results, out)
    images = {kind: path.name for kind, path in files.items() if kind in PLOT_TITLES}
    files["markdown"].write_text(markdown(results, images), encoding="utf-8")
    write_csv(results, files["csv"])
    write_html(results, {kind: path for kind, path in files.items() if path.suffix == ".png"}, files["html"])
    paths = {kind: str(path) for kind, path in files.items()}
    files["json"].write_text(
        json.dumps(results | {"files": paths}, indent=2, default=float), encoding="utf-8"
    )
    return paths
