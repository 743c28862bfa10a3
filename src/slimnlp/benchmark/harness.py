"""benchmark: the teacher and every student on the same test set, with the same harness.

    from slimnlp.benchmark.harness import Variant, benchmark_models, format_table
    results = benchmark_models(variants, test_texts, test_labels, id2label, BenchmarkConfig(), "runs/x/bench")
    print(format_table(results))

How it measures, and why:
- Quality: predictions on every text at batch 32, padded to the longest text of the batch and
  truncated at the model's max length (its tokenizer's model_max_length, else 128), as in serving,
  scored by `slimnlp.training.metrics`.
- Latency (`slimnlp.benchmark.latency`): the model call alone (tokenisation is done beforehand and
  is the same work for every variant) on real test texts padded/truncated to exactly
  `cfg.sequence_length` tokens, at each of `cfg.batch_sizes`. `cfg.warmup` untimed calls per variant
  first; then `cfg.rounds` rounds in which every variant makes `cfg.iterations` timed calls, the
  order rotating each round, so a noisy neighbour on a shared machine slows every variant alike
  instead of whichever ran then. `cfg.sequence_lengths` adds more fixed lengths (keys
  latency_b<batch>_s<length>_*).
- Runners: every variant runs through `slimnlp.runtime` (PyTorch, ONNX Runtime fp32/int8, sklearn).
  torch.set_num_threads and ORT intra-op threads are pinned to `cfg.threads`; ORT's threads do not
  spin between calls (spinning idle sessions slowed whichever variant ran next).
- Peak memory: see `slimnlp.benchmark.memory` (a fresh process per variant).
- Energy: see `slimnlp.benchmark.energy` (CodeCarbon, per 1,000 predictions, method recorded).
- Baselines: role "baseline" rows (the TF-IDF + logistic regression of `slimnlp.benchmark.baselines`,
  runtime "sklearn") go through the same harness; their latency includes featurisation.
- Comparisons: see `slimnlp.benchmark.compare` (speed-ups vs the teacher in the same runtime,
  per-round ratios of the best student over every baseline, agreement, Pareto front, payback).
"""

from __future__ import annotations

import gc
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from slimnlp.benchmark.compare import add_comparisons, reference_batch_size, summarise
from slimnlp.benchmark.energy import measure_energy
from slimnlp.benchmark.facts import disk_size, environment, model_facts
from slimnlp.benchmark.latency import latency_batch, latency_stats, time_interleaved
from slimnlp.benchmark.memory import peak_memory
from slimnlp.benchmark.paired import pack_correct
from slimnlp.benchmark.report import format_table, write_reports
from slimnlp.benchmark.variants import ROLES, Variant, make_runner
from slimnlp.config import BenchmarkConfig
from slimnlp.runtime import RUNTIMES, Runner, predict_logits
from slimnlp.training.metrics import classification_metrics, distinct_text_scores


def quality(predictions: np.ndarray, labels: list[int], id2label: dict[int, str]) -> dict[str, Any]:
    """Accuracy, macro-F1 and per-class precision/recall/F1 (flat keys precision_<label>,
    recall_<label>, f1_<label>), plus the confusion matrix."""
    scores = classification_metrics(predictions, labels, id2label)
    metrics: dict[str, Any] = {"accuracy": scores["accuracy"], "macro_f1": scores["macro_f1"]}
    for name in scores["per_class_f1"]:
        metrics |= {
            f"precision_{name}": scores["per_class_precision"][name],
            f"recall_{name}": scores["per_class_recall"][name],
            f"f1_{name}": scores["per_class_f1"][name],
        }
    metrics["confusion"] = scores["confusion"]
    return metrics


def _check_inputs(
    variants: list[Variant], texts: list[str], labels: list[int], id2label: dict[int, str]
) -> None:
    if not variants:
        raise ValueError("benchmark needs at least one variant")
    names = [v.name for v in variants]
    if len(set(names)) != len(names):
        raise ValueError(f"benchmark variant names must be unique, got {names}")
    for variant in variants:
        variant.check()
    if not texts or len(texts) != len(labels):
        raise ValueError(
            f"benchmark needs test texts with one label each; got {len(texts)} texts, {len(labels)} "
            "labels (is the test split empty? check the prepared data's test split)"
        )
    unknown = sorted(set(labels) - set(id2label))
    if unknown:
        raise ValueError(f"labels {unknown[:5]} are not in id2label {id2label}; pass the data's label map")


def _facts(variant: Variant, runner: Runner, texts: list[str], cfg: BenchmarkConfig) -> dict[str, Any]:
    if variant.runtime == "sklearn":
        return runner.facts(texts)
    return model_facts(variant.model_dir, cfg.sequence_length)


def _measure_in_process(
    chosen: list[Variant], texts: list[str], cfg: BenchmarkConfig, country_iso_code: str, progress: bool
) -> tuple[dict[str, np.ndarray], dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(predictions, latency samples, energy, facts) of every variant, all loaded at once."""
    import torch
    from tqdm.auto import tqdm

    previous_threads = torch.get_num_threads()
    try:
        runners = {
            v.name: make_runner(v, cfg.threads) for v in tqdm(chosen, desc="loading", disable=not progress)
        }
        predictions = {
            name: predict_logits(r, texts).argmax(axis=-1)
            for name, r in tqdm(runners.items(), desc="quality", disable=not progress)
        }
        samples = time_interleaved(runners, texts, cfg, progress)
        batch_size = reference_batch_size(cfg)
        energy = measure_energy(runners, latency_batch(texts, batch_size), cfg, country_iso_code, progress)
        facts = {v.name: _facts(v, runners[v.name], texts, cfg) for v in chosen}
    finally:
        torch.set_num_threads(previous_threads)
    del runners
    gc.collect()
    return predictions, samples, energy, facts


def benchmark_models(
    variants: list[Variant],
    texts: list[str],
    labels: list[int],
    id2label: dict[int, str],
    cfg: BenchmarkConfig,
    out_dir: str | Path,
    progress: bool = True,
    country_iso_code: str = "IND",
    step_energy: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Measure every variant with the same harness and write the report.

    Args:
        variants: The teacher, students and baselines, each in one runtime; transformer variants
            whose runtime is not in `cfg.runtimes` are skipped (listed under results["skipped"]).
        texts: Test texts (all are used for quality, the first ones for latency batches).
        labels: Gold label ids of `texts`.
        id2label: Label names by id.
        cfg: Batch sizes, sequence lengths, rounds, iterations, warm-up, threads, memory, energy.
        out_dir: Receives results.json, results.md, results.csv, report.html, the plots and
            confusion_<variant>.png.
        progress: Show tqdm progress bars.
        country_iso_code: Carbon intensity of CodeCarbon's offline tracker.
        step_energy: The pipeline steps' own energy ({step: {"energy_kwh", ...}}), shown in the
            report (see `slimnlp.benchmark.energy`); payback uses each Variant.compression_kwh.

    Returns:
        The results: environment, config, rows (one flat dict per variant), confusion matrices,
        raw latency samples, energy of the steps, the summary, and the files written.
    """
    from tqdm.auto import tqdm

    _check_inputs(variants, texts, labels, id2label)
    chosen = [v for v in variants if v.runtime in cfg.runtimes or v.runtime == "sklearn"]
    predictions, samples, energy, facts = _measure_in_process(chosen, texts, cfg, country_iso_code, progress)
    rows, confusion = [], {}
    for v in tqdm(chosen, desc="memory and size", disable=not progress):
        row: dict[str, Any] = {
            "name": v.name,
            "runtime": v.runtime,
            "role": v.role,
            "path": str(v.path),
            "model_dir": str(v.model_dir),
            "compression_kwh": v.compression_kwh,
        }
        scores = quality(predictions[v.name], labels, id2label)
        scores |= distinct_text_scores(texts, labels, predictions[v.name])
        confusion[v.name] = scores.pop("confusion")
        row |= scores | latency_stats(samples[v.name]) | facts[v.name] | disk_size(v) | energy[v.name]
        row |= peak_memory(v, latency_batch(texts, max(cfg.batch_sizes)), cfg)
        rows.append(row)
    add_comparisons(rows, predictions, cfg)
    results = {
        "environment": environment(cfg.threads),
        "config": asdict(cfg),
        "n_texts": len(texts),
        "id2label": {int(k): v for k, v in id2label.items()},
        "reference_batch_size": reference_batch_size(cfg),
        "rows": rows,
        "confusion": confusion,
        "latency_samples_ms": samples,
        "step_energy": step_energy or {},
        "skipped": [v.name for v in variants if v not in chosen],
        # per-row correctness ('0'/'1' per test text): the paired statistic of the gate and verdicts
        "correct": {
            name: pack_correct(np.asarray(p) == np.asarray(labels)) for name, p in predictions.items()
        },
    }
    results["summary"] = summarise(results)
    results["files"] = write_reports(results, out_dir)
    return results


__all__ = ["ROLES", "RUNTIMES", "Variant", "benchmark_models", "environment", "format_table", "make_runner"]
