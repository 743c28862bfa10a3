"""benchmark: the teacher and every student on the same test set, with the same harness.

    from slimnlp.benchmark import Variant, benchmark_models, format_table
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
- Threads: torch.set_num_threads and ORT intra-op threads are pinned to `cfg.threads`.
- Peak memory: see `slimnlp.benchmark_memory` (a fresh process per variant).
- Comparisons: a student's speed-up and accuracy delta are against the teacher *in the same
  runtime*; agreement is against the teacher's PyTorch predictions (or its first variant).
"""

from __future__ import annotations

import gc
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from slimnlp.benchmark_facts import disk_size, environment, model_facts
from slimnlp.benchmark_memory import peak_memory
from slimnlp.benchmark_report import format_table, write_reports
from slimnlp.config import BenchmarkConfig

RUNTIMES = ("pytorch", "onnx", "onnx-int8")
ROLES = ("teacher", "student")
QUALITY_BATCH_SIZE = 32
DEFAULT_MAX_LENGTH = 128


@dataclass
class Variant:
    """One model in one runtime.

    Attributes:
        name: Unique display name (e.g. "student-onnx-int8").
        runtime: "pytorch", "onnx" or "onnx-int8".
        path: The model directory (pytorch) or the .onnx file (onnx, onnx-int8).
        tokenizer_dir: Directory holding the tokenizer.
        role: "teacher" or "student".
        model_dir: The PyTorch model directory (parameters and FLOPs are counted there).
    """

    name: str
    runtime: str
    path: str
    tokenizer_dir: str
    role: str
    model_dir: str

    def check(self) -> None:
        if self.runtime not in RUNTIMES:
            raise ValueError(
                f"variant {self.name!r}: runtime must be one of {RUNTIMES}, got {self.runtime!r}"
            )
        if self.role not in ROLES:
            raise ValueError(f"variant {self.name!r}: role must be one of {ROLES}, got {self.role!r}")
        want_file = self.runtime != "pytorch"
        ok = Path(self.path).is_file() if want_file else Path(self.path).is_dir()
        if not ok:
            what = "an .onnx file (run export-onnx first)" if want_file else "a model directory"
            raise FileNotFoundError(f"variant {self.name!r}: {self.path} is not {what}")


# --------------------------------------------------------------------------------------------------
# Runners: one interface (encode, run) over PyTorch and ONNX Runtime


class TorchRunner:
    """A PyTorch classifier with the same encode/run interface as `OnnxClassifier`."""

    def __init__(self, model_dir: str | Path, max_length: int) -> None:
        from slimnlp.modeling import load_model_dir

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
    max_length = model_max_length(variant.model_dir)
    if variant.runtime == "pytorch":
        import torch

        torch.set_num_threads(threads)
        return TorchRunner(variant.path, max_length)
    from slimnlp.export import OnnxClassifier

    return OnnxClassifier(variant.path, variant.tokenizer_dir, threads=threads, max_length=max_length)


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
    """Accuracy, macro-F1 and per-class F1 (flat keys f1_<label>), plus the confusion matrix."""
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

    ids = sorted(id2label)
    per_class = f1_score(labels, predictions, labels=ids, average=None, zero_division=0)
    metrics: dict[str, Any] = {
        "accuracy": float(accuracy_score(labels, predictions)),
        "macro_f1": float(f1_score(labels, predictions, labels=ids, average="macro", zero_division=0)),
    }
    metrics |= {f"f1_{id2label[i]}": float(f1) for i, f1 in zip(ids, per_class, strict=True)}
    metrics["confusion"] = confusion_matrix(labels, predictions, labels=ids).tolist()
    return metrics


def latency_batch(texts: list[str], batch_size: int) -> list[str]:
    """The first `batch_size` test texts, cycling when the test set is smaller."""
    return [texts[i % len(texts)] for i in range(batch_size)]


def time_interleaved(
    runners: dict[str, Any], texts: list[str], cfg: BenchmarkConfig, progress: bool
) -> dict[str, dict[int, list[float]]]:
    """Milliseconds per call, per variant and batch size; warm-up excluded, variants interleaved."""
    from tqdm.auto import tqdm

    names = list(runners)
    samples: dict[str, dict[int, list[float]]] = {name: {b: [] for b in cfg.batch_sizes} for name in names}
    bar = tqdm(total=len(cfg.batch_sizes) * cfg.rounds, desc="latency rounds", disable=not progress)
    for batch_size in cfg.batch_sizes:
        batch = latency_batch(texts, batch_size)
        feeds = {name: runners[name].encode(batch, pad_to=cfg.sequence_length) for name in names}
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
                    samples[name][batch_size] += _timed_calls(runners[name], feeds[name], cfg.iterations)
                bar.update(1)
        finally:
            gc.enable()
    bar.close()
    return samples


def _timed_calls(runner, feed: dict[str, Any], iterations: int) -> list[float]:
    times = []
    for _ in range(iterations):
        start = time.perf_counter()
        runner.run(feed)
        times.append((time.perf_counter() - start) * 1000)
    return times


def latency_stats(samples: dict[int, list[float]]) -> dict[str, float]:
    stats: dict[str, float] = {}
    for batch_size, times in samples.items():
        ms = np.asarray(times)
        stats[f"latency_b{batch_size}_p50_ms"] = float(np.percentile(ms, 50))
        stats[f"latency_b{batch_size}_p95_ms"] = float(np.percentile(ms, 95))
        stats[f"latency_b{batch_size}_mean_ms"] = float(ms.mean())
        stats[f"throughput_b{batch_size}"] = float(batch_size * 1000 / ms.mean())  # sequences/s
    return stats


# --------------------------------------------------------------------------------------------------
# Comparisons between rows


def reference_batch_size(cfg: BenchmarkConfig) -> int:
    """The batch size that speed-ups and plots are read at: 32 when timed, else the largest."""
    return 32 if 32 in cfg.batch_sizes else max(cfg.batch_sizes)


def add_comparisons(
    rows: list[dict[str, Any]], predictions: dict[str, np.ndarray], cfg: BenchmarkConfig
) -> None:
    """Speed-up and accuracy deltas vs the teacher in the same runtime, agreement with the
    teacher's predictions, and whether each row is on the accuracy/latency Pareto front."""
    teachers = [row for row in rows if row["role"] == "teacher"]
    reference = next((r for r in teachers if r["runtime"] == "pytorch"), teachers[0] if teachers else None)
    for row in rows:
        if reference is not None:
            agree = predictions[row["name"]] == predictions[reference["name"]]
            row["agreement_with_teacher"] = float(agree.mean())
        teacher = next((t for t in teachers if t["runtime"] == row["runtime"]), None)
        if row["role"] != "student" or teacher is None:
            continue
        for batch_size in cfg.batch_sizes:
            key = f"latency_b{batch_size}_p50_ms"
            row[f"speedup_vs_teacher_b{batch_size}"] = teacher[key] / row[key]
        row["accuracy_delta_vs_teacher"] = row["accuracy"] - teacher["accuracy"]
        row["macro_f1_delta_vs_teacher"] = row["macro_f1"] - teacher["macro_f1"]
    key = f"latency_b{reference_batch_size(cfg)}_p50_ms"
    for row in rows:
        row["pareto"] = not any(
            o["accuracy"] >= row["accuracy"]
            and o[key] <= row[key]
            and (o["accuracy"] > row["accuracy"] or o[key] < row[key])
            for o in rows
        )


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
            f"benchmark needs texts with one label each; got {len(texts)} texts, {len(labels)} labels"
        )
    unknown = sorted(set(labels) - set(id2label))
    if unknown:
        raise ValueError(f"labels {unknown[:5]} are not in id2label {id2label}; pass the data's label map")


def benchmark_models(
    variants: list[Variant],
    texts: list[str],
    labels: list[int],
    id2label: dict[int, str],
    cfg: BenchmarkConfig,
    out_dir: str | Path,
    progress: bool = True,
) -> dict[str, Any]:
    """Measure every variant with the same harness and write the report.

    Args:
        variants: The teacher and students, each in one runtime; those whose runtime is not in
            `cfg.runtimes` are skipped (and listed under results["skipped"]).
        texts: Test texts (all are used for quality, the first ones for latency batches).
        labels: Gold label ids of `texts`.
        id2label: Label names by id.
        cfg: Batch sizes, sequence length, rounds, iterations, warm-up, threads, peak memory.
        out_dir: Receives results.json, results.md, results.csv, accuracy_vs_latency.png and
            confusion_<variant>.png.
        progress: Show tqdm progress bars.

    Returns:
        The results: environment, config, rows (one flat dict per variant), confusion matrices,
        raw latency samples, and the files written.
    """
    import torch
    from tqdm.auto import tqdm

    _check_inputs(variants, texts, labels, id2label)
    chosen = [v for v in variants if v.runtime in cfg.runtimes]
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
    finally:
        torch.set_num_threads(previous_threads)
    del runners
    gc.collect()
    facts = {d: model_facts(d, cfg.sequence_length) for d in dict.fromkeys(v.model_dir for v in chosen)}
    rows, confusion = [], {}
    for v in tqdm(chosen, desc="memory and size", disable=not progress):
        row: dict[str, Any] = {
            "name": v.name,
            "runtime": v.runtime,
            "role": v.role,
            "path": str(v.path),
            "model_dir": str(v.model_dir),
        }
        scores = quality(predictions[v.name], labels, id2label)
        confusion[v.name] = scores.pop("confusion")
        row |= scores | latency_stats(samples[v.name]) | facts[v.model_dir] | disk_size(v)
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
        "latency_samples_ms": {name: {str(b): s for b, s in per.items()} for name, per in samples.items()},
        "skipped": [v.name for v in variants if v not in chosen],
    }
    results["files"] = write_reports(results, out_dir)
    return results


__all__ = ["Variant", "benchmark_models", "environment", "format_table"]
