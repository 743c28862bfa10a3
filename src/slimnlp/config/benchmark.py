"""benchmark: the one harness every model variant is timed and scored in."""

from __future__ import annotations

from dataclasses import dataclass

from slimnlp.config.base import Section, _help


@dataclass(frozen=True)
class BenchmarkConfig(Section):
    batch_sizes: list[int] = _help("Batch sizes to time.", factory=lambda: [1, 32], ge=1, min_items=1)
    sequence_length: int = _help("Fixed sequence length for latency (texts padded/truncated).", 64, ge=1)
    rounds: int = _help("Interleaved rounds per variant.", 5, ge=1)
    iterations: int = _help("Timed iterations per round.", 10, ge=1)
    warmup: int = _help("Untimed warm-up iterations per variant.", 3, ge=0)
    threads: int = _help("Intra-op threads for PyTorch and ORT (pinned).", 2, ge=1)
    runtimes: list[str] = _help(
        "pytorch, onnx, onnx-int8.",
        factory=lambda: ["pytorch", "onnx", "onnx-int8"],
        choices=("pytorch", "onnx", "onnx-int8"),
    )
    peak_memory: str = _help(
        "subprocess: RSS high-water mark of a fresh process per variant (~5-8 s each); off: skip.",
        "subprocess",
        choices=("subprocess", "off"),
    )
    sequence_lengths: list[int] = _help(
        "More fixed sequence lengths to time besides sequence_length (e.g. [32, 128]); [] = only that one.",
        factory=list,
        ge=1,
    )
    energy: bool = _help(
        "Measure inference energy/CO2 per 1,000 predictions of every variant with CodeCarbon "
        "(also needs tracking.codecarbon).",
        True,
    )
    energy_seconds: float = _help(
        "Seconds of inference per variant under the energy tracker (plus ~1.5 s to start it).", 2.0, gt=0
    )
    tfidf_baseline: bool = _help(
        "Train a TF-IDF (char n-grams) + logistic regression baseline on the train split and "
        "benchmark it alongside (the cheap reference a user would try first).",
        True,
    )
