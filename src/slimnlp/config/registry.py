"""promote: the MLflow model registry and the promotion gate."""

from __future__ import annotations

import re
from dataclasses import dataclass

from slimnlp.config.base import _help, _require


@dataclass(frozen=True)
class RegistryConfig:
    enabled: bool = _help("Run the promote step (register the student in the MLflow model registry).", True)
    model_name: str | None = _help("Registered model name; None = slimnlp-<run name>.", None)
    max_drop_vs_teacher: float = _help(
        "Largest test-accuracy drop below the teacher (same test set, fraction: 0.02 = 2 points) "
        "that still lets the student become champion.",
        0.02,
    )
    max_drop_vs_champion: float = _help(
        "Largest test-accuracy drop below the current champion, scored on this run's test set.", 0.01
    )
    gate: str = _help(
        "faster: the student must have lower latency than the teacher and the champion; smaller: "
        "fewer bytes on disk.",
        "faster",
    )
    latency_metric: str = _help("Benchmark column compared when gate=faster.", "latency_b1_p50_ms")
    min_ratio: float = _help(
        "Smallest ratio (the teacher's or champion's latency, or bytes, over the student's) that counts "
        "as faster (smaller). For latency the margin is the larger of this and 1 + the spread of the "
        "benchmark's rounds, so a difference inside the measurement noise never moves the champion.",
        1.1,
    )
    serve_variant: str = _help(
        "The ONNX model that is registered and served, and that the gate measures: int8 (ORT dynamic "
        "int8, the smallest and on CPU the fastest) or fp32.",
        "int8",
    )

    def __post_init__(self) -> None:
        _require(
            self.serve_variant in ("int8", "fp32"),
            "serve_variant",
            f"must be 'int8' or 'fp32', got {self.serve_variant!r}",
        )
        _require(
            self.gate in ("faster", "smaller"), "gate", f"must be 'faster' or 'smaller', got {self.gate!r}"
        )
        for name in ("max_drop_vs_teacher", "max_drop_vs_champion"):
            value = getattr(self, name)
            _require(0 <= value <= 1, name, f"must be in [0, 1] (a fraction of accuracy), got {value}")
        _require(self.min_ratio >= 1.0, "min_ratio", f"must be >= 1.0 (a ratio), got {self.min_ratio}")
        _require(
            self.model_name is None or bool(re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*$", self.model_name)),
            "model_name",
            f"must be letters, digits, '.', '_' or '-' (starting with a letter or digit), got {self.model_name!r}",
        )
        _require(
            bool(re.match(r"^latency_b[0-9]+_(p50|p95|mean)_ms$", self.latency_metric)),
            "latency_metric",
            f"must look like latency_b1_p50_ms (a benchmark latency column), got {self.latency_metric!r}",
        )
