"""benchmark: the one harness every model variant is timed and scored in."""

from __future__ import annotations

from dataclasses import dataclass

from slimnlp.config.base import _help, _require


@dataclass(frozen=True)
class BenchmarkConfig:
    batch_sizes: list[int] = _help("Batch sizes to time.", factory=lambda: [1, 32])
    sequence_length: int = _help("Fixed sequence length for latency (texts padded/truncated).", 64)
    rounds: int = _help("Interleaved rounds per variant.", 5)
    iterations: int = _help("Timed iterations per round.", 10)
    warmup: int = _help("Untimed warm-up iterations per variant.", 3)
    threads: int = _help("Intra-op threads for PyTorch and ORT (pinned).", 2)
    runtimes: list[str] = _help("pytorch, onnx, onnx-int8.", factory=lambda: ["pytorch", "onnx", "onnx-int8"])
    peak_memory: str = _help(
        "subprocess: RSS high-water mark of a fresh process per variant (~5-8 s each); off: skip.",
        "subprocess",
    )
    sequence_lengths: list[int] = _help(
        "More fixed sequence lengths to time besides sequence_length (e.g. [32, 128]); [] = only that one.",
        factory=list,
    )
    energy: bool = _help(
        "Measure inference energy/CO2 per 1,000 predictions of every variant with CodeCarbon "
        "(also needs tracking.codecarbon).",
        True,
    )
    energy_seconds: float = _help(
        "Seconds of inference per variant under the energy tracker (plus ~1.5 s to start it).", 2.0
    )
    tfidf_baseline: bool = _help(
        "Train a TF-IDF (char n-grams) + logistic regression baseline on the train split and "
        "benchmark it alongside (the cheap reference a user would try first).",
        True,
    )

    def __post_init__(self) -> None:
        _require(self.energy_seconds > 0, "energy_seconds", f"must be > 0, got {self.energy_seconds}")
        _require(
            all(length >= 1 for length in self.sequence_lengths),
            "sequence_lengths",
            f"must be positive integers, got {self.sequence_lengths}",
        )
        _require(
            self.peak_memory in ("subprocess", "off"),
            "peak_memory",
            f"must be 'subprocess' or 'off', got {self.peak_memory!r}",
        )
        _require(self.warmup >= 0, "warmup", f"must be >= 0, got {self.warmup}")
        _require(
            len(self.batch_sizes) > 0 and all(b >= 1 for b in self.batch_sizes),
            "batch_sizes",
            f"must be a non-empty list of positive integers, got {self.batch_sizes}",
        )
        allowed = {"pytorch", "onnx", "onnx-int8"}
        _require(
            set(self.runtimes) <= allowed,
            "runtimes",
            f"must be a subset of {sorted(allowed)}, got {self.runtimes}",
        )
        for name in ("sequence_length", "rounds", "iterations", "threads"):
            _require(getattr(self, name) >= 1, name, f"must be >= 1, got {getattr(self, name)}")
