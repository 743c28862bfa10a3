"""What every runner shares: the Runner protocol, choosing a runner by runtime name, batched logits.

from slimnlp.runtime import load_runner, predict_logits
runner = load_runner("onnx-int8", "runs/x/onnx/model.int8.onnx", model_dir="runs/x/student",
                     tokenizer_dir="runs/x/onnx", threads=2)
predicted = predict_logits(runner, texts).argmax(-1)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import numpy as np

from slimnlp.runtime.inputs import text_batches

RUNTIMES = ("pytorch", "onnx", "onnx-int8", "sklearn")
ONNX_RUNTIMES = ("onnx", "onnx-int8")
# Quality is measured at this batch size with padding to the longest text, as in serving.
PREDICT_BATCH_SIZE = 32


class Runner(Protocol):
    """A classifier in one runtime. `encode` turns texts into that runtime's inputs (untimed);
    `run` is the model call alone (what latency measures) and returns (n_texts, n_labels) scores."""

    def encode(self, texts: list[str], pad_to: int | None = None) -> Any: ...

    def run(self, feed: Any) -> np.ndarray: ...


def predict_logits(runner: Runner, texts: list[str], batch_size: int = PREDICT_BATCH_SIZE) -> np.ndarray:
    """Scores (n_texts, n_labels) as float32, in batches padded to their longest text."""
    chunks = [runner.run(runner.encode(batch)) for batch in text_batches(texts, batch_size)]
    return np.concatenate(chunks).astype(np.float32, copy=False) if chunks else np.zeros((0, 0), np.float32)


def load_runner(
    runtime: str,
    path: str | Path,
    *,
    model_dir: str | Path | None = None,
    tokenizer_dir: str | Path | None = None,
    threads: int = 1,
    spinning: bool = True,
) -> Runner:
    """Load a classifier for inference in `runtime`, threads pinned.

    Args:
        runtime: One of RUNTIMES.
        path: The model directory (pytorch, sklearn) or the .onnx file (onnx, onnx-int8).
        model_dir: The PyTorch model directory; its tokenizer's model_max_length (else 128) is the
            max length of every transformer runtime. Default: `path` (pytorch).
        tokenizer_dir: The tokenizer of an ONNX file (export-onnx saves it beside the file).
        threads: torch.set_num_threads (process-wide) or the ORT session's intra-op threads.
        spinning: Whether idle ORT threads spin (see `slimnlp.runtime.onnx`).
    """
    if runtime not in RUNTIMES:
        raise ValueError(f"runtime must be one of {RUNTIMES}, got {runtime!r}")
    if runtime == "sklearn":
        from slimnlp.runtime.sklearn import TfidfRunner

        return TfidfRunner(path)
    from slimnlp.models import model_max_length

    max_length = model_max_length(model_dir or path)
    if runtime == "pytorch":
        import torch

        from slimnlp.runtime.torch import TorchRunner

        torch.set_num_threads(threads)
        return TorchRunner.from_dir(path, max_length)
    from slimnlp.runtime.onnx import OnnxRunner

    if tokenizer_dir is None:
        raise ValueError(f"runtime {runtime!r} needs the tokenizer_dir of {path}")
    return OnnxRunner(path, tokenizer_dir, threads=threads, max_length=max_length, spinning=spinning)
