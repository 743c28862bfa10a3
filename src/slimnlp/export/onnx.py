"""export-onnx: ONNX export of a model directory, checked against PyTorch on real inputs.

    from slimnlp.export.onnx import export_onnx_model
    metrics = export_onnx_model("runs/x/student", "runs/x/onnx", test_texts, ExportConfig(), test_labels)

The output directory is self-contained for serving: `model.onnx` (dynamic batch and sequence axes,
weights inside the file), optionally `model.int8.onnx` (ORT dynamic int8), the tokenizer, the
model directory's config.json / slimnlp_layout.json and its metrics as `model_metrics.json`; the
step that calls it writes the returned metrics to `metrics.json`.

The step in five moves: export (`slimnlp.export.graph`, where the exporter is explained), check
parity with PyTorch (`slimnlp.export.parity`), build the fused candidate (`slimnlp.export.fusion`:
ORT's attention fusion with each layer's head count read from the graph, parity-checked too),
quantise both, and keep, for fp32 and for int8 apart, whichever graph measured faster; then score
fp32 and int8 on every text. Every check runs the file through `slimnlp.runtime.onnx.OnnxRunner`,
the ORT runner the benchmark uses too, at the session level the benchmark uses: ORT_ENABLE_ALL.
ORT's own session-level fusions (EXTENDED and ALL) never produced an Attention op on these graphs,
uniform or uneven, and parity stayed ~1e-6.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from slimnlp.config import ExportConfig
from slimnlp.export.fusion import (
    FusionError,
    check_other_shapes,
    export_fused,
    fusion_metrics,
    fusion_speedup,
    time_files,
)
from slimnlp.export.graph import export_fp32, head_counts, quantize_int8
from slimnlp.export.parity import ExportParityError, check_onnx_parity
from slimnlp.models import LAYOUT_FILE, METRICS_FILE, load_model_dir
from slimnlp.runtime import predict_logits
from slimnlp.runtime.onnx import SESSION_LEVEL, OnnxInputError, OnnxRunner, onnx_file_bytes
from slimnlp.training.metrics import classification_metrics

ONNX_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"
# The fused candidates; whichever of plain and fused is faster ends up under the names above.
FUSED_FILES = {"fp32": "model.fused.onnx", "int8": "model.fused.int8.onnx"}
MODEL_METRICS_FILE = "model_metrics.json"
# Beyond this the 2 GB protobuf limit is near: weights go to external data next to the file.
EXTERNAL_DATA_BYTES = 1_800_000_000

__all__ = [
    "EXTERNAL_DATA_BYTES",
    "INT8_FILE",
    "MODEL_METRICS_FILE",
    "ONNX_FILE",
    "ExportParityError",
    "OnnxInputError",
    "check_onnx_parity",
    "export_onnx_model",
]


def _copy_serving_files(model_dir: Path, tokenizer, out: Path) -> None:
    tokenizer.save_pretrained(str(out))
    for name in ("config.json", LAYOUT_FILE):
        if (model_dir / name).is_file():
            shutil.copy2(model_dir / name, out / name)
    if (model_dir / METRICS_FILE).is_file():
        shutil.copy2(model_dir / METRICS_FILE, out / MODEL_METRICS_FILE)


def _accuracy_metrics(
    out: Path, texts: list[str], labels: list[int] | None, max_length: int, quantized: bool
) -> dict[str, Any]:
    """fp32 (and int8) accuracy on all texts, and how often int8 agrees with fp32."""
    fp32 = predict_logits(OnnxRunner(out / ONNX_FILE, out, threads=1, max_length=max_length), texts)
    metrics: dict[str, Any] = {}
    if labels is not None:
        metrics["fp32_accuracy"] = classification_metrics(fp32.argmax(-1), labels)["accuracy"]
    if quantized:
        int8 = predict_logits(OnnxRunner(out / INT8_FILE, out, threads=1, max_length=max_length), texts)
        metrics["int8_agreement"] = float((int8.argmax(-1) == fp32.argmax(-1)).mean())
        metrics["int8_max_abs_diff"] = float(np.abs(int8 - fp32).max())
        if labels is not None:
            metrics["int8_accuracy"] = classification_metrics(int8.argmax(-1), labels)["accuracy"]
    return metrics


def export_onnx_model(
    model_dir: str | Path,
    out_dir: str | Path,
    texts: list[str],
    cfg: ExportConfig,
    labels: list[int] | None = None,
    max_length: int = 128,
) -> dict[str, Any]:
    """Export a model directory to ONNX, check parity with PyTorch, optionally quantise to int8.

    Args:
        model_dir: A slimnlp / Hugging Face model directory (teacher or pruned student).
        out_dir: Output directory (created); see the module docstring for its contents.
        texts: Real texts (the test set): the first `cfg.parity_samples` are used for the parity
            check, all of them for accuracy.
        cfg: Export settings (opset, atol, optimize, quantize_int8, parity_samples).
        labels: Gold label ids of `texts`; when given, fp32 and int8 accuracy are reported.
        max_length: Texts are truncated to this many tokens.

    Returns:
        Metrics: max_abs_diff, onnx_size_bytes, int8_size_bytes, fp32_accuracy, int8_accuracy,
        int8_agreement, fused_attention, uniform_heads, export_seconds, ...

    Raises:
        ModelDirError: model_dir is not a model directory.
        ExportParityError: max |ORT - PyTorch| on the logits is over cfg.atol.
    """
    start = time.perf_counter()
    model_dir, out = Path(model_dir), Path(out_dir)
    if not texts:
        raise ValueError(f"export-onnx of {model_dir} needs real texts for the parity check; got none")
    if labels is not None and len(labels) != len(texts):
        raise ValueError(f"export-onnx got {len(texts)} texts but {len(labels)} labels")
    model, tokenizer = load_model_dir(model_dir)
    out.mkdir(parents=True, exist_ok=True)
    _copy_serving_files(model_dir, tokenizer, out)
    uniform, _ = head_counts(model)
    large = sum(p.numel() * p.element_size() for p in model.parameters()) > EXTERNAL_DATA_BYTES

    # 1. export, 2. check parity at the serving level, 3. the fused candidate (parity-checked too)
    export_fp32(model, tokenizer, texts, out / ONNX_FILE, cfg.opset, max_length, large)
    diff = check_onnx_parity(
        out / ONNX_FILE, model_dir, texts[: cfg.parity_samples], cfg.atol, max_length, model=model
    )
    fusion = _fused_candidate(model, tokenizer, model_dir, texts, out, cfg, max_length, large)
    # 4. int8 (checked for accuracy and agreement, not parity: int8 is not meant to match fp32)
    if cfg.quantize_int8:
        quantize_int8(out / ONNX_FILE, out / INT8_FILE, large)
        if "fusion_parity_diff" in fusion:
            quantize_int8(out / FUSED_FILES["fp32"], out / FUSED_FILES["int8"], large)
    # 5. keep fusion where it measured faster
    if "fusion_parity_diff" in fusion:
        fusion |= _keep_faster(out, texts, max_length, cfg.quantize_int8, fusion["fused_heads_per_layer"])
    metrics: dict[str, Any] = {
        "max_abs_diff": diff,
        "atol": cfg.atol,
        "parity_samples": min(len(texts), cfg.parity_samples),
        "onnx_size_bytes": onnx_file_bytes(out / ONNX_FILE),
        "int8_size_bytes": onnx_file_bytes(out / INT8_FILE) if cfg.quantize_int8 else None,
        "fused_attention": bool(fusion.get("fusion_kept_fp32", False)),
        "uniform_heads": uniform,
        "opset": cfg.opset,
        "exporter": "torch.onnx dynamo"
        + (" / TorchScript (fused)" if "fused_heads_per_layer" in fusion else ""),
        "ort_session_level": SESSION_LEVEL,
    } | fusion
    if fusion.get("fusion_kept_fp32"):  # the parity of the file that is served
        metrics["max_abs_diff"] = fusion["fusion_parity_diff"]
    metrics |= _accuracy_metrics(out, texts, labels, max_length, cfg.quantize_int8)
    metrics["export_seconds"] = time.perf_counter() - start
    return metrics  # the export-onnx step writes them to metrics.json, once, with its energy


def _fused_candidate(
    model,
    tokenizer,
    model_dir: Path,
    texts: list[str],
    out: Path,
    cfg: ExportConfig,
    max_length: int,
    large: bool,
) -> dict[str, Any]:
    """Export and fuse `model.fused.onnx` and check its parity; a graph ORT cannot fuse, or one that
    fails parity, is reported (fusion_skipped) and dropped: the plain export stands."""
    if not cfg.optimize:
        return {"fusion_skipped": "export.optimize is false"}
    if not getattr(model.config, "num_hidden_layers", 1):
        return {"fusion_skipped": "no encoder layer (a zero-layer model): no attention to fuse"}
    if large:
        return {"fusion_skipped": f"weights over {EXTERNAL_DATA_BYTES} bytes (external data is not fused)"}
    path = out / FUSED_FILES["fp32"]
    try:
        heads = export_fused(model, tokenizer, texts, path, cfg.opset, max_length)
        diff = check_onnx_parity(
            path, model_dir, texts[: cfg.parity_samples], cfg.atol, max_length, model=model
        )
        diff = max(diff, check_other_shapes(path, out / ONNX_FILE, out, texts, max_length, cfg.atol))
    except (FusionError, ExportParityError) as err:
        path.unlink(missing_ok=True)
        print(f"export-onnx: graph fusion dropped, the plain graph stands: {err}", flush=True)
        return {"fusion_skipped": str(err)[:300]}
    return {"fused_heads_per_layer": heads, "fusion_parity_diff": diff}


def _keep_faster(
    out: Path, texts: list[str], max_length: int, quantized: bool, heads: list[int]
) -> dict[str, Any]:
    """Time plain and fused (fp32, and int8 when written) interleaved; the faster graph of each
    precision takes the served name, the other file is removed."""
    pairs = {"fp32": (ONNX_FILE, FUSED_FILES["fp32"])}
    if quantized:
        pairs["int8"] = (INT8_FILE, FUSED_FILES["int8"])
    files = {name: out / name for pair in pairs.values() for name in pair}
    medians = time_files(files, out, texts, max_length)
    speedups = {precision: fusion_speedup(medians, *pair) for precision, pair in pairs.items()}
    metrics = fusion_metrics(heads, medians, speedups)
    for precision, (plain, fused) in pairs.items():
        if metrics[f"fusion_kept_{precision}"]:
            (out / fused).replace(out / plain)
        else:
            (out / fused).unlink()
    return metrics
