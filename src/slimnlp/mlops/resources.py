"""Will a training step fit? Memory and time of a step estimated on this hardware before it starts.

    from slimnlp.mlops.resources import estimate_training, check_affordable
    estimate = estimate_training(model, n_texts=2761, mean_tokens=24, epochs=3, batch_size=32)
    print(estimate.describe())           # "~14 min for 3 epochs (...), peak ~3.1 GiB of 19.6 GiB free"
    check_affordable(estimate, "teacher")  # ResourceError naming what to reduce

How (rough by design: it answers "minutes or days", "fits or not", not the second):
- Time: a training step costs ~6 FLOPs per non-embedding parameter per token (forward 2, backward
  4; the embedding lookup is free) plus the attention scores (12 x layers x tokens x length x
  hidden). The machine's rate is measured once per process with a 0.2 s fp32 GEMM probe, and
  training is taken to reach TRAINING_EFFICIENCY of it (measured on these machines: BERT training
  in PyTorch on CPU reached ~35% of the probe's GFLOP/s).
- Memory: weights, gradients and AdamW's two moments (16 bytes per parameter), the best-epoch copy
  of the weights (4 bytes), and the activations of one batch (~40 floats per token per layer per
  hidden unit: BERT's saved tensors for backward), against MemAvailable.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from typing import Any

TRAINING_EFFICIENCY = 0.35
ACTIVATION_FLOATS = 40  # per token, per layer, per hidden unit


class ResourceError(RuntimeError):
    """A step cannot be afforded on this machine; the message says what to reduce."""


@dataclass(frozen=True)
class TrainingEstimate:
    seconds: float
    peak_bytes: float
    available_bytes: float
    epochs: int
    steps: int
    gflops_rate: float

    def describe(self) -> str:
        minutes = self.seconds / 60
        when = f"~{minutes:.0f} min" if minutes >= 1 else f"~{self.seconds:.0f} s"
        return (
            f"{when} for {self.epochs} epoch(s) of {self.steps // max(1, self.epochs)} steps on this machine "
            f"(~{self.gflops_rate:.0f} GFLOP/s measured), peak ~{self.peak_bytes / 2**30:.1f} GiB of "
            f"{self.available_bytes / 2**30:.1f} GiB available"
        )


@functools.cache
def measured_gflops(seconds: float = 0.2) -> float:
    """fp32 GEMM rate of this process's threads (GFLOP/s), probed once."""
    import torch

    a, b = torch.randn(512, 512), torch.randn(512, 512)
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        calls += 1
    return 2 * 512**3 * calls / (time.perf_counter() - start) / 1e9


def peak_rss_gib() -> float:
    """The peak resident memory of this process or of any child it waited for (torchrun workers),
    in GiB: a step runs in its own process (kfp.local, a pod), so this is the step's peak."""
    import resource

    kib = max(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    )
    return round(kib / 2**20, 3)


def available_memory_bytes() -> float:
    """MemAvailable of /proc/meminfo (Linux), else 0 (unknown: memory is then not checked)."""
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    return 0.0


def estimate_training(
    model: Any, n_texts: int, mean_tokens: float, epochs: int, batch_size: int, max_tokens: int | None = None
) -> TrainingEstimate:
    """Time and peak memory of training `model` for `epochs` over `n_texts` texts of `mean_tokens`
    tokens (batches padded to their longest: `max_tokens` bounds the activation estimate)."""
    config = model.config
    params = sum(p.numel() for p in model.parameters())
    embedding = model.get_input_embeddings().weight.numel()
    layers, hidden = config.num_hidden_layers, config.hidden_size
    tokens = n_texts * mean_tokens * epochs
    flops = 6 * (params - embedding) * tokens + 12 * layers * tokens * mean_tokens * hidden
    rate = measured_gflops()
    longest = max_tokens or mean_tokens
    activations = ACTIVATION_FLOATS * batch_size * longest * layers * hidden * 4
    steps = -(-n_texts // batch_size) * epochs
    return TrainingEstimate(
        seconds=flops / (rate * 1e9 * TRAINING_EFFICIENCY),
        peak_bytes=20 * params + activations,
        available_bytes=available_memory_bytes(),
        epochs=epochs,
        steps=steps,
        gflops_rate=rate,
    )


def check_affordable(estimate: TrainingEstimate, section: str, max_seconds: float | None = None) -> None:
    """Raise ResourceError when the estimate does not fit in available memory or in `max_seconds`,
    naming the `section` keys to reduce ("" = the step's own section)."""
    key = f"{section}." if section else ""
    where = section or "training"
    if estimate.available_bytes and estimate.peak_bytes > estimate.available_bytes:
        raise ResourceError(
            f"{where}: training needs ~{estimate.peak_bytes / 2**30:.1f} GiB but "
            f"{estimate.available_bytes / 2**30:.1f} GiB is available; reduce {key}batch_size or "
            f"{key}max_length (activations), or train a smaller model (weights, gradients and AdamW "
            "take 16 bytes per parameter)"
        )
    if max_seconds is not None and estimate.seconds > max_seconds:
        raise ResourceError(
            f"{where}: training would take ~{estimate.seconds / 60:.0f} min on this machine, over the "
            f"{max_seconds / 60:.0f} min allowed ({key}budget_minutes); reduce {key}epochs, the training rows "
            "(data.max_train_rows) or the model, or run it on a GPU"
        )
