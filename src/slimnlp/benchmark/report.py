"""The benchmark's report: results.json, results.md, results.csv, report.html, plots, terminal tables.

    from slimnlp.benchmark.report import format_table, format_summary
    results = json.load(open("runs/x/bench/results.json"))
    print(format_table(results)); print(format_summary(results))

Everything here reads the `results` dict built by `slimnlp.benchmark.harness.benchmark_models`; nothing
measures. The Markdown and the HTML page are built from the same cells (`main_table`), so they
cannot disagree; the plots are in `slimnlp.benchmark.plots`, the page in `slimnlp.benchmark.report_html`.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

from slimnlp.benchmark.plots import write_plots

RESULTS_JSON, RESULTS_MD, RESULTS_CSV, REPORT_HTML = (
    "results.json",
    "results.md",
    "results.csv",
    "report.html",
)
PLOT_TITLES = {
    "plot": "Accuracy vs latency (Pareto front)",
    "size_plot": "Size on disk",
    "energy_plot": "Energy",
}


def _fmt(value: Any, spec: str) -> str:
    if value is None:
        return "-"
    if spec == "s":
        return str(value)
    if isinstance(value, float) and math.isinf(value):
        return "never"
    return format(value, spec)


def payback_words(value: float | None) -> str:
    """A payback in predictions as words: '-' unknown, 'never' (no saving), else '12,345'."""
    if value is None:
        return "-"
    return "never (no energy saving)" if math.isinf(value) else f"{value:,.0f} predictions"


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
            f"{row['params_total']:>10,}  {row['size_mb']:>8.2f}  {_fmt(row.get('latency_b1_p50_ms'), '.2f'):>8}  "
            f"{row[f'latency_b{batch}_p50_ms']:>9.2f}  {_fmt(speedup, '.2f') + ('x' if speedup else ''):>8}  "
            f"{_fmt(energy * 1000 if energy is not None else None, '.4f'):>8}"
        )
    env = results["environment"]
    lines.append(
        f"ms per batch of {results['config']['sequence_length']} tokens; {env['threads']} threads; "
        f"{env['cpu_model']}; speed-up vs the teacher in the same runtime"
    )
    return "\n".join(lines)


def versus_rows(results: dict[str, Any]) -> list[list[str]]:
    """The best student against each teacher/baseline row: cells for the summary tables."""
    summary = results.get("summary") or {}
    cells = []
    for name, cmp in summary.get("versus", {}).items():
        speed = cmp["speedup"]
        cells.append(
            [
                name,
                cmp["role"],
                f"{speed['median']:.2f}x ({speed['min']:.2f}-{speed['max']:.2f})",
                f"{cmp['accuracy_delta']:+.4f}",
                _fmt(cmp.get("energy_ratio"), ".2f") + ("x" if cmp.get("energy_ratio") else ""),
                payback_words(cmp.get("payback_predictions")),
            ]
        )
    return cells


VERSUS_HEADER = [
    "vs",
    "role",
    "speed-up (rounds min-max)",
    "Δ accuracy",
    "energy ratio (them / student)",
    "energy payback",
]


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


def main_table(results: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """(header, rows of cells) of the full table, shared by results.md and report.html."""
    batch = results["reference_batch_size"]
    columns = [
        ("Variant", "name", "s"),
        ("Runtime", "runtime", "s"),
        ("Role", "role", "s"),
        ("Accuracy", "accuracy", ".4f"),
        ("Macro-F1", "macro_f1", ".4f"),
        ("Δ acc vs teacher", "accuracy_delta_vs_teacher", "+.4f"),
    ]
    if any("accuracy_distinct" in row for row in results["rows"]):  # the test file repeats texts
        columns += [
            ("Accuracy (distinct texts)", "accuracy_distinct", ".4f"),
            ("Macro-F1 (distinct texts)", "macro_f1_distinct", ".4f"),
        ]
    columns += [
        ("Agreement w/ teacher", "agreement_with_teacher", ".3f"),
        ("Params", "params_total", ","),
        ("Embedding params", "params_embeddings", ","),
        ("Size MB", "size_mb", ".2f"),
        ("GFLOPs/seq", "gflops_per_sequence", ".4f"),
    ]
    for size in results["config"]["batch_sizes"]:
        columns += [
            (f"b{size} p50 ms", f"latency_b{size}_p50_ms", ".2f"),
            (f"b{size} p95 ms", f"latency_b{size}_p95_ms", ".2f"),
            (f"b{size} p99 ms", f"latency_b{size}_p99_ms", ".2f"),
            (f"b{size} seq/s", f"throughput_b{size}", ".1f"),
        ]
    columns += [
        (f"Speed-up b{batch}", f"speedup_vs_teacher_b{batch}", ".2f"),
        ("Peak RSS MB", "peak_rss_mb", ".0f"),
        ("Δ RSS MB", "peak_rss_delta_mb", ".0f"),
        ("Wh / 1k pred", "energy_wh_per_1k", ".4f"),
        ("g CO2 / 1k pred", "co2_g_per_1k", ".4f"),
        ("Payback vs teacher (pred)", "payback_predictions_vs_teacher", ",.0f"),
        ("Pareto", "pareto", "s"),
    ]
    rows = []
    for row in results["rows"]:
        energy = row.get("energy_kwh_per_1k")
        values = row | {"energy_wh_per_1k": energy * 1000 if energy is not None else None}
        rows.append([_fmt(values.get(key), spec) for _, key, spec in columns])
    return [title for title, _, _ in columns], rows


def length_table(results: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """p50 ms per batch size and sequence length (empty when only one length was timed)."""
    cfg = results["config"]
    lengths = [cfg["sequence_length"]] + [
        n for n in cfg.get("sequence_lengths", []) if n != cfg["sequence_length"]
    ]
    if len(lengths) < 2:
        return [], []

    def key(batch: int, length: int) -> str:
        return f"latency_b{batch}" + ("" if length == cfg["sequence_length"] else f"_s{length}") + "_p50_ms"

    header = ["Variant"] + [f"b{b} × {n} tok" for n in lengths for b in cfg["batch_sizes"]]
    rows = [
        [row["name"]] + [_fmt(row.get(key(b, n)), ".2f") for n in lengths for b in cfg["batch_sizes"]]
        for row in results["rows"]
        if row["runtime"] != "sklearn"  # TF-IDF has no sequence length
    ]
    return header, rows


def per_class_table(results: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Precision / recall / F1 per label (one row per variant)."""
    names = list(results["id2label"].values())
    header = ["Variant"] + [f"{n} P/R/F1" for n in names]
    rows = [
        [row["name"]]
        + [
            f"{row.get(f'precision_{n}', 0):.2f}/{row.get(f'recall_{n}', 0):.2f}/{row[f'f1_{n}']:.2f}"
            for n in names
        ]
        for row in results["rows"]
    ]
    return header, rows


def step_energy_table(results: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    steps = results.get("step_energy") or {}
    rows = [
        [
            step,
            f"{e['energy_kwh'] * 1000:.3f}",
            f"{e.get('emissions_kg_co2', 0) * 1000:.3f}",
            _fmt(e.get("duration_s"), ".1f"),
            str(e.get("energy_method", "unknown")),
        ]
        for step, e in steps.items()
    ]
    return ["Step", "Wh", "g CO2", "seconds", "how CodeCarbon measured"], rows


def _md(header: list[str], rows: list[list[str]]) -> list[str]:
    if not header:
        return []
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + [
        "| " + " | ".join(r) + " |" for r in rows
    ]


def method_lines(results: dict[str, Any]) -> list[str]:
    """How everything was measured, one sentence each (the same text in Markdown and HTML)."""
    env, cfg = results["environment"], results["config"]
    flags = ", ".join(flag for flag, present in env["isa_flags"].items() if present) or "none of interest"
    methods = sorted({row["energy_method"] for row in results["rows"] if row.get("energy_method")})
    return [
        f"CPU: {env['cpu_model']} ({env['cpus_available']} CPUs available); ISA: {flags}; "
        f"GPU: {env.get('gpu_model') or 'none (CPU benchmark)'}",
        f"Threads (pinned): {env['threads']}; torch {env['torch']}, onnxruntime {env['onnxruntime']}, "
        f"transformers {env['transformers']}; {env['timestamp_utc']}",
        f"Quality on {results['n_texts']} test texts (batch 32, dynamic padding). Latency of the model "
        f"call on real texts padded/truncated to {cfg['sequence_length']} tokens: {cfg['warmup']} warm-up "
        f"calls, then {cfg['rounds']} rounds x {cfg['iterations']} calls, variants interleaved. "
        "The TF-IDF baseline's latency includes its featurisation; transformers exclude tokenisation.",
        f"Speed-up and Δ accuracy: vs the teacher in the same runtime. Peak memory: {cfg['peak_memory']}.",
        "Inference energy (CodeCarbon, process mode, "
        f"{cfg.get('energy_seconds')} s per variant): {'; '.join(methods) if methods else 'not measured'}.",
    ]


def markdown(results: dict[str, Any], images: dict[str, str] | None = None) -> str:
    """results.md: verdicts, the best student vs every baseline, method, tables, plots (relative links)."""
    summary = results.get("summary") or {}
    lines = ["# Benchmark"]
    for i, verdict in enumerate(summary.get("verdicts", [])):
        lines += ["", f"**{verdict}**" if i == 0 else verdict]
    if summary.get("best_student"):
        lines += ["", f"## {summary['best_student']} vs the baselines (batch {summary['batch_size']})", ""]
        lines += _md(VERSUS_HEADER, versus_rows(results))
    lines += ["", "## Method", ""] + [f"- {line}" for line in method_lines(results)]
    lines += ["", "## All variants", "", *_md(*main_table(results))]
    if length_table(results)[0]:
        lines += ["", "## p50 latency (ms) by sequence length", "", *_md(*length_table(results))]
    if results.get("step_energy"):
        lines += ["", "## Energy of the pipeline steps", "", *_md(*step_energy_table(results))]
    lines += ["", "## Per-class precision / recall / F1", "", *_md(*per_class_table(results))]
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
    from slimnlp.benchmark.report_html import write_html

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
