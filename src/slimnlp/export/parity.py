"""The parity check of export-onnx: ONNX Runtime against PyTorch on the logits of real texts.

    from slimnlp.export.parity import check_onnx_parity
    diff = check_onnx_parity("runs/x/onnx/model.onnx", "runs/x/student", test_texts, atol=1e-4)

Both models run through `slimnlp.runtime` (ORT at the serving session level, the same int64 arrays fed
to PyTorch), so what is checked here is what the benchmark and serving run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from slimnlp.runtime.inputs import text_batches
from slimnlp.runtime.onnx import OnnxRunner
from slimnlp.runtime.torch import TorchRunner, torch_feed

PARITY_BATCH_SIZE = 16


class ExportParityError(ValueError):
    """ONNX Runtime and PyTorch disagree on the logits of real inputs by more than the tolerance."""


def max_abs_diff(
    ort: OnnxRunner, pytorch: TorchRunner, texts: list[str], batch_size: int = PARITY_BATCH_SIZE
) -> float:
    """max |ORT - PyTorch| over the logits of `texts`, batched and padded as in serving; both runtimes
    get the same token ids."""
    worst = 0.0
    for batch in text_batches(texts, batch_size):
        feed = ort.encode(batch)
        worst = max(worst, float(np.abs(ort.run(feed) - pytorch.run(torch_feed(feed))).max()))
    return worst


def check_onnx_parity(
    onnx_path: str | Path,
    model_dir: str | Path,
    texts: list[str],
    atol: float,
    max_length: int = 128,
    model=None,
) -> float:
    """Raise ExportParityError when ORT (at the serving level) and PyTorch differ by more than atol.

    Args:
        onnx_path: The exported file.
        model_dir: The model directory it was exported from (its tokenizer feeds both).
        texts: Real texts, at least one.
        atol: The largest allowed absolute difference on a logit.
        max_length: Texts are truncated to this many tokens.
        model: The PyTorch model already in memory (else loaded from model_dir).

    Returns:
        The max absolute difference on the logits.
    """
    if not texts:
        raise ValueError(f"parity check of {onnx_path} needs at least one real text; got none")
    ort = OnnxRunner(onnx_path, model_dir, threads=1, max_length=max_length)
    if model is None:
        pytorch = TorchRunner.from_dir(model_dir, max_length)
    else:  # the tokenizer is the directory's either way: ORT's was loaded from model_dir
        pytorch = TorchRunner(model, ort.tokenizer, max_length)
    diff = max_abs_diff(ort, pytorch, texts)
    if not diff <= atol:  # also catches NaN
        raise ExportParityError(
            f"ONNX export of {model_dir} ({onnx_path}) differs from PyTorch: max |ORT - PyTorch| = "
            f"{diff:.3g} on the logits of {len(texts)} real texts, over the tolerance export.atol = "
            f"{atol:g}. The graph computes something else (e.g. a fused attention op on uneven heads); "
            "export with export.optimize=false to isolate it, or raise export.atol only if the gap is expected."
        )
    return diff
