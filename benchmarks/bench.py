"""The fixed benchmark behind `make bench`: figures, not pass/fail.

    .venv/bin/python benchmarks/bench.py --config benchmarks/shc.yaml
    .venv/bin/python benchmarks/bench.py --config benchmarks/shc.yaml --fresh      # retrain everything
    .venv/bin/python benchmarks/bench.py --set data.max_train_rows=300 --set teacher.epochs=1  # a smoke run

Runs the pipeline's steps in this process (prepare-data -> [pretrain-mlm ->] train-teacher -> prune ->
distill -> finetune-amp -> export-onnx) under one MLflow parent run, then the benchmark step, and prints the
best student's speed-up over every baseline (medians of per-round ratios from one interleaved run),
its accuracy difference, and the energy payback of compressing it. Writes
<run dir>/bench.json (the figures) beside <run dir>/benchmark/report.html.

A step is reused the way `slimnlp run --resume` reuses it: when its resume key (the config it reads,
its input folders' content, slimnlp's version: `slimnlp.mlops.resume.step_key`) has a record and the
recorded output is unchanged; any change reruns it and what follows. Reused outputs carry their
metrics.json, so the payback still finds their energy; `--fresh` starts over.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import itertools
import json
import shutil
import sys
import time
from typing import Any

STATE_FILE = "bench_state.json"
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


def bench_steps(cfg) -> list:
    """The pipeline's steps before the benchmark, from the step list: with pretrain.enabled,
    pretrain-mlm (cached by corpus + config in pretrain.cache_dir, so `make pretrain` beforehand
    saves its ~35 min) feeds train-teacher."""
    from slimnlp.steps.spec import dag_steps

    return list(itertools.takewhile(lambda step: step.name != "benchmark", dag_steps(cfg)))


def _run_step(step, cfg, out: str, parent: str, inputs: dict[str, str]) -> dict[str, Any]:
    """One step into an empty output folder (what an earlier config left there goes first)."""
    shutil.rmtree(out, ignore_errors=True)
    return step.load()(cfg, out_dir=out, parent_run_id=parent, **inputs)


def run_steps(cfg, fresh: bool) -> str:
    """Run (or reuse, by resume key) the steps up to export-onnx; returns the MLflow parent run id."""
    from slimnlp.mlops import resume, tracking

    run_dir = cfg.run_dir
    state_file = run_dir / STATE_FILE
    if fresh and run_dir.exists():
        shutil.rmtree(run_dir)
    state = json.loads(state_file.read_text(encoding="utf-8")) if state_file.is_file() else {}
    with contextlib.ExitStack() as stack:
        parent = state.get("parent_run_id")
        if parent is None:
            parent = stack.enter_context(tracking.parent_run(cfg, tags={"slimnlp.bench": "true"}))
            run_dir.mkdir(parents=True, exist_ok=True)
            state_file.write_text(json.dumps({"parent_run_id": parent}), encoding="utf-8")
        stack.enter_context(resume.resume_env(True))
        outputs: dict[str, str] = {}
        for step in bench_steps(cfg):
            out = str(run_dir / step.output_dir)
            inputs = {i.name: outputs[i.producer] for i in step.inputs if i.producer in outputs}
            started = time.perf_counter()
            kwargs = {i.param: inputs[i.name] for i in step.inputs if i.name in inputs}
            run = functools.partial(_run_step, step, cfg, out, parent, kwargs)
            resume.run_or_reuse(cfg, step.name, out, inputs, run)
            outputs[step.name] = out
            print(f"bench: {step.name} done in {time.perf_counter() - started:.0f} s", flush=True)
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
