"""promote: the MLflow model registry and the promotion gate."""

from __future__ import annotations

from dataclasses import dataclass

from slimnlp.config.base import Section, _help

# The benchmark runtime that times each registry.serve_variant: what the promote step gates on.
SERVED_RUNTIMES = {"int8": "onnx-int8", "fp32": "onnx"}


@dataclass(frozen=True)
class RegistryConfig(Section):
    enabled: bool = _help("Run the promote step (register the student in the MLflow model registry).", True)
    model_name: str | None = _help(
        "Registered model name; None = slimnlp-<run name>.",
        None,
        pattern="[A-Za-z0-9][A-Za-z0-9._-]*",
        means="letters, digits, '.', '_' or '-' (starting with a letter or digit)",
    )
    max_drop_vs_teacher: float = _help(
        "Largest test-accuracy drop below the teacher (same test set, fraction: 0.02 = 2 points) "
        "that still lets the student become champion.",
        0.02,
        ge=0,
        le=1,
    )
    max_drop_vs_champion: float = _help(
        "Largest test-accuracy drop below the current champion, scored on this run's test set.",
        0.01,
        ge=0,
        le=1,
    )
    gate: str = _help(
        "faster: the student must have lower latency than the teacher and the champion; smaller: "
        "fewer bytes on disk.",
        "faster",
        choices=("faster", "smaller"),
    )
    latency_metric: str = _help(
        "Benchmark column compared when gate=faster.",
        "latency_b1_p50_ms",
        pattern="latency_b[0-9]+_(p50|p95|mean)_ms",
        means="a benchmark latency column such as latency_b1_p50_ms",
    )
    min_ratio: float = _help(
        "Smallest ratio (the teacher's or champion's latency, or bytes, over the student's) that counts "
        "as faster (smaller). For latency the margin is the larger of this and 1 + the spread of the "
        "benchmark's rounds, so a difference inside the measurement noise never moves the champion.",
        1.1,
        ge=1.0,
    )
    serve_variant: str = _help(
        "The ONNX model that is registered and served, and that the gate measures: int8 (ORT dynamic "
        "int8, the smallest and on CPU the fastest) or fp32.",
        "int8",
        choices=("int8", "fp32"),
    )
