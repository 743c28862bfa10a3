"""benchmark: the teacher and every student on the same test set, with the same harness.

    from slimnlp.benchmark.harness import Variant, benchmark_models, format_table
    results = benchmark_models(variants, test_texts, test_labels, id2label, BenchmarkConfig(), "runs/x/bench")
    print(format_table(results))

How it measures, and why:
- Quality: predictions on every text at batch 32, padded to the longest text of the batch and
  truncated at the model's max length (its tokenizer's model_max_length, else 128), as in serving.
- Latency: the model call alone (tokenisation is done beforehand and is the same work for every
  variant) on real test texts padded/truncated to exactly `cfg.sequence_length` tokens, at each of
  `cfg.batch_sizes`. `cfg.warmup` untimed calls per variant first; then `cfg.rounds` rounds in
  which every variant makes `cfg.iterations` timed calls, the order rotating each round, so a
  noisy neighbour on a shared machine slows every variant alike instead of whichever ran then.
  `cfg.sequence_lengths` adds more fixed lengths (keys latency_b<batch>_s<length>_*).
- Threads: torch.set_num_threads and ORT intra-op threads are pinned to `cfg.threads`; ORT's
  threads do not spin between calls (spinning idle sessions slowed whichever variant ran next).
- Peak memory: see `slimnlp.benchmark.memory` (a fresh process per variant).
- Energy: see `slimnlp.benchmark.energy` (CodeCarbon, per 1,000 predictions, method recorded).
- Baselines: role "baseline" rows (the TF-IDF + logistic regression of `slimnlp.benchmark.baselines`,
  runtime "sklearn") go through the same harness; their latency includes featurisation.
- Comparisons: see `slimnlp.benchmark.compare` (speed-ups vs the teacher in the same runtime,
  per-round ratios of the best student over every baseline, agreement, Pareto front, payback).
"""

from __future__ import annotations

import gc
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from slimnlp.benchmark.compare import add_comparisons, reference_batch_size, summarise
from slimnlp.benchmark.energy import measure_energy
from slimnlp.benchmark.facts import disk_size, environment, model_facts
from slimnlp.benchmark.memory import peak_memory
from slimnlp.benchmark.report import format_table, write_reports
from slimnlp.config import BenchmarkConfig
from slimnlp.training.metrics import distinct_text_scores

RUNTIMES = ("pytorch", "onnx", "onnx-int8", "sklearn")
ROLES = ("teacher", "student", "baseline")
QUALITY_BATCH_SIZE = 32
DEFAULT_MAX_LENGTH = 128


@dataclass
class Variant:
    """One model in one runtime.

    Attributes:
        name: Unique display name (e.g. "student-onnx-int8").
        runtime: "pytorch", "onnx", "onnx-int8" or "sklearn" (a `slimnlp.benchmark.baselines` directory).
        path: The model directory (pytorch, sklearn) or the .onnx file (onnx, onnx-int8).
        tokenizer_dir: Directory holding the tokenizer.
        role: "teacher", "student" or "baseline".
        model_dir: The PyTorch model directory (parameters and FLOPs are counted there).
        compression_kwh: Energy spent making this student from the teacher (prune, distill,
            fine-tune, export), for the carbon payback; None when unknown.
    """

    name: str
    runtime: str
    path: str
    tokenizer_dir: str
    role: str
    model_dir: str
    compression_kwh: float | None = None

    def check(self) -> None:
        if self.runtime not in RUNTIMES:
            raise ValueError(
                f"variant {self.name!r}: runtime must be one of {RUNTIMES}, got {self.runtime!r}"
            )
        if self.role not in ROLES:
            raise ValueError(f"variant {self.name!r}: role must be one of {ROLES}, got {self.role!r}")
        want_file = self.runtime in ("onnx", "onnx-int8")
        ok = Path(self.path).is_file() if want_file else Path(self.path).is_dir()
        if not ok:
            what = "an .onnx file (run export-onnx first)" if want_file else "a model directory"
            raise FileNotFoundError(f"variant {self.name!r}: {self.path} is not {what}")


# --------------------------------------------------------------------------------------------------
# Runners: one interface (encode, run) over PyTorch and ONNX Runtime


class TorchRunner:
    """A PyTorch classifier with the same encode/run interface as `OnnxClassifier`."""

    def __init__(self, model_dir: str | Path, max_length: int) -> None:
        from slimnlp.models import load_model_dir

        self.model, self.tokenizer = load_model_dir(model_dir)
        self.max_length = max_length

    def encode(self, texts: list[str], pad_to: int | None = None) -> dict[str, Any]:
        """Tensors padded to the longest text (truncated at max_length), or to exactly `pad_to`."""
        padding, length = ("max_length", pad_to) if pad_to else (True, self.max_length)
        enc = self.tokenizer(
            list(texts), padding=padding, truncation=True, max_length=length, return_tensors="pt"
        )
        return dict(enc)

    def run(self, feed: dict[str, Any]) -> np.ndarray:
        import torch

        with torch.inference_mode():
            return self.model(**feed).logits.float().numpy()


def model_max_length(model_dir: str | Path) -> int:
    """The tokenizer's model_max_length of a model directory, or 128 when unset/unbounded."""
    config = Path(model_dir, "tokenizer_config.json")
    value = (
        json.loads(config.read_text(encoding="utf-8")).get("model_max_length") if config.is_file() else None
    )
    return int(value) if isinstance(value, int | float) and 0 < value <= 100_000 else DEFAULT_MAX_LENGTH


def make_runner(variant: Variant, threads: int):
    """Load a variant for inference (PyTorch model or ORT session), threads pinned."""
    if variant.runtime == "sklearn":
        from slimnlp.benchmark.baselines import TfidfRunner

        return TfidfRunner(variant.path)
    max_length = model_max_length(variant.model_dir)
    if variant.runtime == "pytorch":
        import torch

        torch.set_num_threads(threads)
        return TorchRunner(variant.path, max_length)
    import onnxruntime as ort

    from slimnlp.export.onnx import OnnxClassifier, session_options

    runner = OnnxClassifier(variant.path, variant.tokenizer_dir, threads=threads, max_length=max_length)
    # ORT's intra-op threads spin after every call by default. Serving one model that is what you
    # want; here the spinning threads of idle sessions took the cores from the variant being timed
    # (PyTorch measured 10x slower right after ORT calls), so the benchmark's sessions block instead.
    options = session_options(threads)
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    runner.session = ort.InferenceSession(str(variant.path), options, providers=["CPUExecutionProvider"])
    return runner


# --------------------------------------------------------------------------------------------------
# Quality and latency


def predict_all(runner, texts: list[str]) -> np.ndarray:
    """Predicted label ids for every text at batch 32 with dynamic padding."""
    chunks = [
        runner.run(runner.encode(texts[i : i + QUALITY_BATCH_SIZE]))
        for i in range(0, len(texts), QUALITY_BATCH_SIZE)
    ]
    return np.concatenate(chunks).argmax(axis=-1)


def quality(predictions: np.ndarray, labels: list[int], id2label: dict[int, str]) -> dict[str, Any]:
    """Accuracy, macro-F1 and per-class precision/recall/F1 (flat keys precision_<label>,
    recall_<label>, f1_<label>), plus the confusion matrix."""
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

    ids = sorted(id2label)
    precision, recall, per_class, _ = precision_recall_fscore_support(
        labels, predictions, labels=ids, average=None, zero_division=0
    )
    metrics: dict[str, Any] = {
        "accuracy": float(accuracy_score(labels, predictions)),
        "macro_f1": float(f1_score(labels, predictions, labels=ids, average="macro", zero_division=0)),
    }
    for i, p, r, f1 in zip(ids, precision, recall, per_class, strict=True):
        metrics |= {
            f"precision_{id2label[i]}": float(p),
            f"recall_{id2label[i]}": float(r),
            f"f1_{id2label[i]}": float(f1),
        }
    metrics["confusion"] = confusion_matrix(labels, predictions, labels=ids).tolist()
    return metrics


def latency_batch(texts: list[str], batch_size: int) -> list[str]:
    """The first `batch_size` test texts, cycling when the test set is smaller."""
    return [texts[i % len(texts)] for i in range(batch_size)]


def timing_points(cfg: BenchmarkConfig) -> list[tuple[int, int]]:
    """(batch size, sequence length) pairs to time: every batch size at cfg.sequence_length, then
    at each extra length of cfg.sequence_lengths."""
    lengths = [cfg.sequence_length] + [n for n in cfg.sequence_lengths if n != cfg.sequence_length]
    return [(batch, length) for length in dict.fromkeys(lengths) for batch in cfg.batch_sizes]


def point_key(batch_size: int, length: int, cfg: BenchmarkConfig) -> str:
    """ "32" at the reference length (as before extra lengths existed), else "32@128"."""
    return str(batch_size) if length == cfg.sequence_length else f"{batch_size}@{length}"


def time_interleaved(
    runners: dict[str, Any], texts: list[str], cfg: BenchmarkConfig, progress: bool
) -> dict[str, dict[str, list[float]]]:
    """Milliseconds per call, per variant and timing point; warm-up excluded, variants interleaved.

    The samples of each point are in round order (`cfg.iterations` per round), which is what the
    per-round ratios of `slimnlp.benchmark.compare` rely on.
    """
    from tqdm.auto import tqdm

    names, points = list(runners), timing_points(cfg)
    samples = {name: {point_key(b, n, cfg): [] for b, n in points} for name in names}
    bar = tqdm(total=len(points) * cfg.rounds, desc="latency rounds", disable=not progress)
    for batch_size, length in points:
        key = point_key(batch_size, length, cfg)
        batch = latency_batch(texts, batch_size)
        feeds = {name: runners[name].encode(batch, pad_to=length) for name in names}
        for name in names:
            for _ in range(cfg.warmup):
                runners[name].run(feeds[name])
        # A garbage collection inside a timed call would be charged to whichever variant was unlucky.
        gc.collect()
        gc.disable()
        try:
            for round_index in range(cfg.rounds):
                shift = round_index % len(names)
                for name in names[shift:] + names[:shift]:
                    samples[name][key] += _timed_calls(runners[name], feeds[name], cfg.iterations)
                bar.update(1)
        finally:
            gc.enable()
    bar.close()
    return samples


def _timed_calls(runner, feed: Any, iterations: int) -> list[float]:
    times = []
    for _ in range(iterations):
        start = time.perf_counter()
        runner.run(feed)
        times.append((time.perf_counter() - start) * 1000)
    return times


def latency_stats(samples: dict[str, list[float]]) -> dict[str, float]:
    """p50/p95/p99/mean ms and throughput (sequences/s) per timing point key ("32" or "32@128")."""
    stats: dict[str, float] = {}
    for key, times in samples.items():
        batch, _, length = key.partition("@")
        prefix = f"latency_b{batch}" + (f"_s{length}" if length else "")
        ms = np.asarray(times)
        for q in (50, 95, 99):
            stats[f"{prefix}_p{q}_ms"] = float(np.percentile(ms, q))
        stats[f"{prefix}_mean_ms"] = float(ms.mean())
        stats[f"throughput_b{batch}" + (f"_s{length}" if length else "")] = float(
            int(batch) * 1000 / ms.mean()
        )
    return stats


# --------------------------------------------------------------------------------------------------
# The step


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
            "labels (is the test split empty? check the prepared data's test.jsonl)"
        )
    unknown = sorted(set(labels) - set(id2label))
    if unknown:
        raise ValueError(f"labels {unknown[:5]} are not in id2label {id2label}; pass the data's label map")


def _facts(variant: Variant, runner: Any, texts: list[str], cfg: BenchmarkConfig) -> dict[str, Any]:
    if variant.runtime == "sklearn":
        return runner.facts(texts)
    return model_facts(variant.model_dir, cfg.sequence_length)


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
    import torch
    from tqdm.auto import tqdm

    _check_inputs(variants, texts, labels, id2label)
    chosen = [v for v in variants if v.runtime in cfg.runtimes or v.runtime == "sklearn"]
    previous_threads = torch.get_num_threads()
    try:
        runners = {
            v.name: make_runner(v, cfg.threads) for v in tqdm(chosen, desc="loading", disable=not progress)
        }
        predictions = {
            name: predict_all(r, texts)
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
    }
    results["summary"] = summarise(results)
    results["files"] = write_reports(results, out_dir)
    return results


__all__ = ["Variant", "benchmark_models", "environment", "format_table"]
