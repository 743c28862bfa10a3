"""Every table of the benchmark report as rows of cells: one place that turns numbers into text.

    from slimnlp.benchmark.tables import cell, main_table, markdown_lines
    header, rows = main_table(results)
    print("\n".join(markdown_lines(header, rows)))

The terminal and results.md (`slimnlp.benchmark.report`), report.html (`slimnlp.benchmark.html_page`)
and the grid table (`slimnlp.grid.branches`) are all built from these cells, so they never disagree.
"""

from __future__ import annotations

import math
from typing import Any


def cell(value: Any, spec: str | None = None) -> str:
    """One table cell: "-" for a missing value.

    With `spec`, `format(value, spec)` ("s": str; an infinite number reads "never", as a payback
    that never comes). Without, yes/no for booleans, 4 significant digits for floats ("-" when not
    finite), a/b/c for lists ("-" when empty), str for the rest.
    """
    if value is None:
        return "-"
    if spec is not None:
        if spec == "s":
            return str(value)
        if isinstance(value, float) and math.isinf(value):
            return "never"
        return format(value, spec)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else "-"
    if isinstance(value, list):
        return "/".join(str(v) for v in value) if value else "-"
    return str(value)


def markdown_lines(header: list[str], rows: list[list[str]]) -> list[str]:
    """A Markdown table (no lines when there is no header)."""
    if not header:
        return []
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + [
        "| " + " | ".join(r) + " |" for r in rows
    ]


def payback_words(value: float | None) -> str:
    """A payback in predictions as words: '-' unknown, 'never' (no saving), else '12,345'."""
    if value is None:
        return "-"
    return "never (no energy saving)" if math.isinf(value) else f"{value:,.0f} predictions"


# --------------------------------------------------------------------------------------------------
# The tables of results.md and report.html


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
                cell(cmp.get("energy_ratio"), ".2f") + ("x" if cmp.get("energy_ratio") else ""),
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
        rows.append([cell(values.get(key), spec) for _, key, spec in columns])
    return [title for title, _, _ in columns], rows


def length_table(results: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """p50 ms per batch size and sequence length, and at the test set's own lengths ("real": length
    buckets, dynamic padding) where they were timed; empty when only one length was timed."""
    cfg = results["config"]
    lengths: list[int | str] = [cfg["sequence_length"]] + [
        n for n in cfg.get("sequence_lengths", []) if n != cfg["sequence_length"]
    ]
    if any(f"latency_b{b}_sreal_p50_ms" in row for row in results["rows"] for b in cfg["batch_sizes"]):
        lengths.append("real")
    if len(lengths) < 2:
        return [], []

    def key(batch: int, length: int | str) -> str:
        return f"latency_b{batch}" + ("" if length == cfg["sequence_length"] else f"_s{length}") + "_p50_ms"

    def title(batch: int, length: int | str) -> str:
        return f"b{batch} × real lengths" if length == "real" else f"b{batch} × {length} tok"

    header = ["Variant"] + [title(b, n) for n in lengths for b in cfg["batch_sizes"]]
    rows = [
        [row["name"]] + [cell(row.get(key(b, n)), ".2f") for n in lengths for b in cfg["batch_sizes"]]
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
            cell(e.get("duration_s"), ".1f"),
            str(e.get("energy_method", "unknown")),
        ]
        for step, e in steps.items()
    ]
    return ["Step", "Wh", "g CO2", "seconds", "how CodeCarbon measured"], rows


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
