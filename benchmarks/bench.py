"""The fixed benchmark behind `make bench`: figures, not pass/fail.

    .venv/bin/python benchmarks/bench.py --config benchmarks/shc.yaml
    .venv/bin/python benchmarks/bench.py --config benchmarks/shc.yaml --fresh      # retrain everything
    .venv/bin/python benchmarks/bench.py --set data.max_train_rows=300 --set teacher.epochs=1  # a smoke run

Runs the pipeline's steps in this process (prepare-data -> [pretrain-mlm ->] train-teacher -> prune ->
distill -> finetune-amp -> export-onnx) under one MLflow parent run, then the benchmark step, and prints the
best student's speed-up over every baseline (medians of per-round ratios from one interleaved run),
its accuracy difference, and the energy payback of compressing it. Writes
<run dir>/bench.json (the figures) beside <run dir>/benchmark/report.html.

Steps whose output directory already holds a metrics.json are reused (their runs stay under the
same MLflow parent, so the payback still finds their energy); `--fresh` starts over.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import sys
import time
from typing import Any

STATE_FILE = "bench_state.json"
# (step, output folder, input folders) in DAG order; pretrain-mlm joins when pretrain.enabled.
STEPS = [
    ("prepare_data", "data", []),
    ("train_teacher", "teacher", ["data"]),
    ("prune", "pruned", ["data", "teacher"]),
    ("distill", "distilled", ["data", "teacher", "pruned"]),
    ("finetune_amp", "student", ["data", "teacher", "distilled"]),
    ("export_onnx", "onnx", ["data", "student"]),
]
SUMMARY_KEYS = (
    "name", "runtime", "role", "accuracy", "macro_f1", "agreement_with_teacher", "params_total",
    "size_mb", "gflops_per_sequence", "latency_b1_p50_ms", "latency_b32_p50_ms", "latency_b32_p95_ms",
    "throughput_b32", "peak_rss_mb", "energy_kwh_per_1k", "co2_g_per_1k", "energy_method",
    "payback_predictions_vs_teacher",
)  # fmt: skip


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="benchmarks/shc.yaml", help="run config (default: %(default)s)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--fresh", action="store_true", help="delete earlier outputs and retrain")
    return parser.parse_args(argv)


def bench_steps(cfg) -> list[tuple[str, str, list[str]]]:
    """The steps this config runs: with pretrain.enabled, pretrain-mlm (cached by corpus + config in
    pretrain.cache_dir, so `make pretrain` beforehand saves its ~35 min) feeds train-teacher."""
    if not cfg.pretrain.enabled:
        return STEPS
    return [STEPS[0], ("pretrain_mlm", "pretrained", ["data"]), *STEPS[1:]]


def run_steps(cfg, fresh: bool) -> str:
    """Run (or reuse) the steps up to export-onnx; returns the MLflow parent run id they sit under."""
    from slimnlp import steps
    from slimnlp.mlops import tracking

    run_dir = cfg.run_dir
    state_file = run_dir / STATE_FILE
    if fresh and run_dir.exists():
        shutil.rmtree(run_dir)
    state = json.loads(state_file.read_text(encoding="utf-8")) if state_file.is_file() else {}
    with contextlib.ExitStack() as stack:
        run_list = bench_steps(cfg)
        parent = state.get("parent_run_id")
        if parent is None:
            for _, folder, _ in run_list:  # outputs without their MLflow runs would hide their energy
                shutil.rmtree(run_dir / folder, ignore_errors=True)
            parent = stack.enter_context(tracking.parent_run(cfg, tags={"slimnlp.bench": "true"}))
            run_dir.mkdir(parents=True, exist_ok=True)
            state_file.write_text(json.dumps({"parent_run_id": parent}), encoding="utf-8")
        for name, folder, inputs in run_list:
            out = run_dir / folder
            if (out / "metrics.json").is_file():
                print(f"bench: reusing {out} (--fresh retrains)", flush=True)
                continue
            started = time.perf_counter()
            step = getattr(steps, name)
            pretrained = name == "train_teacher" and cfg.pretrain.enabled
            extra = {"pretrained_dir": run_dir / "pretrained"} if pretrained else {}
            step(cfg, *[run_dir / i for i in inputs], out, parent_run_id=parent, **extra)
            print(f"bench: {name} done in {time.perf_counter() - started:.0f} s", flush=True)
    return parent


def figures(results: dict[str, Any], metrics: dict[str, Any], config: str) -> dict[str, Any]:
    """What bench.json keeps: the summary, a slim row per variant, energy, where the report is."""
    return {
        "config": config,
        "summary": results["summary"],
        "rows": [{k: row.get(k) for k in SUMMARY_KEYS} for row in results["rows"]],
        "compression_energy": {k: metrics.get(k) for k in ("compression_kwh", "compression_kg_co2")},
        "step_energy": results.get("step_energy"),
        "environment": results["environment"],
        "benchmark_config": results["config"],
        "report_html": results["files"]["html"],
    }


def main(argv: list[str] | None = None) -> int:
    from slimnlp import steps
    from slimnlp.benchmark.report import format_summary, format_table, payback_words
    from slimnlp.config import load_config

    args = parse_args(argv)
    cfg = load_config(args.config, args.overrides)
    started = time.perf_counter()
    parent = run_steps(cfg, args.fresh)
    run_dir, out = cfg.run_dir, cfg.run_dir / "benchmark"
    shutil.rmtree(out, ignore_errors=True)
    metrics = steps.benchmark(
        cfg,
        run_dir / "data",
        run_dir / "teacher",
        run_dir / "student",
        run_dir / "onnx",
        out,
        parent_run_id=parent,
    )
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    print("\n" + format_table(results) + "\n")
    print(format_summary(results) + "\n")
    spent = metrics.get("compression_kwh")
    student = next((r for r in results["rows"] if r["name"] == results["summary"]["best_student"]), {})
    spent_text = f"{spent * 1000:.3f} Wh" if spent is not None else "not recorded"
    payback = payback_words(student.get("payback_predictions_vs_teacher"))
    print(f"compression energy (prune, distill, fine-tune, export): {spent_text}; payback of "
          f"{student.get('name')} vs the teacher in the same runtime: {payback}")  # fmt: skip
    summary_file = run_dir / "bench.json"
    summary_file.write_text(
        json.dumps(figures(results, metrics, args.config), indent=2, default=str), encoding="utf-8"
    )
    print(f"\nwrote {summary_file}\nreport: {results['files']['html']}\nMLflow parent run: {parent}")
    print(f"bench wall time: {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
