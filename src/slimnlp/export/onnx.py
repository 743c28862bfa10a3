"""export-onnx: ONNX export of a model directory, checked against PyTorch on real inputs.

    from slimnlp.export.onnx import export_onnx_model
    metrics = export_onnx_model("runs/x/student", "runs/x/onnx", test_texts, ExportConfig(), test_labels)

The output directory is self-contained for serving: `model.onnx` (dynamic batch and sequence axes,
weights inside the file), optionally `model.int8.onnx` (ORT dynamic int8), the tokenizer, the
model directory's config.json / slimnlp_layout.json, its metrics as `model_metrics.json`, and this
step's metrics as `metrics.json`. `OnnxClassifier` is the one ORT inference wrapper that the parity
check, the benchmark and serving all use, so what is checked here is what runs there.

Choices, measured on these machines (torch 2.13, transformers 5.24, onnxruntime 1.32, Nov 2026):
- Exporter: `torch.onnx.export(dynamo=True)`. Both exporters reproduce transformers-5 BERT with
  dynamic batch/sequence axes and uneven heads per layer (max |ORT - PT| ~1e-6 on O(1) logits), but
  the legacy TorchScript exporter is deprecated ("will be removed"), and its tracer bakes Python
  branches of transformers' mask code into the graph (TracerWarnings), while torch.export refuses
  to specialise silently. The price is export time: ~5-12 s instead of ~1 s, once per model.
- Attention fusion: `onnxruntime.transformers.optimizer` fuses attention into one `Attention` op
  with a single num_heads for the whole graph. On a model with [4, 3, 2, 1] heads per layer that
  op gave max |ORT - PT| = 0.86 on logits of size ~2.6 (uniform model: 1e-6), without any error.
  So fusion is only allowed for unpruned, uniform-head models; uneven models get the other fusions
  (SkipLayerNormalization, BiasGelu) with attention fusion off. (With the dynamo graph of SDPA
  attention the optimizer finds no attention pattern anyway; the guard matters for other graphs.)
- Session level: ORT_ENABLE_ALL. ORT's own session-level fusions (EXTENDED and ALL) never produced
  an Attention op on these graphs, uniform or uneven, and parity stayed ~1e-6; the parity check
  below runs at exactly this level through `OnnxClassifier`.
"""

from __future__ import annotations

import json
import shutil
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from slimnlp.config import ExportConfig
from slimnlp.models import LAYOUT_FILE, METRICS_FILE, load_model_dir

ONNX_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"
MODEL_METRICS_FILE = "model_metrics.json"
SESSION_LEVEL = "all"
# Fused attention ops of ORT that take one head count for the whole graph.
FUSED_ATTENTION_OPS = ("Attention", "MultiHeadAttention", "PackedAttention", "PackedMultiHeadAttention")
# Beyond this the 2 GB protobuf limit is near: weights go to external data next to the file.
EXTERNAL_DATA_BYTES = 1_800_000_000


class ExportParityError(ValueError):
    """ONNX Runtime and PyTorch disagree on the logits of real inputs by more than the tolerance."""


class OnnxInputError(ValueError):
    """An ONNX file cannot be fed by a tokenizer (its inputs or outputs don't match)."""


# --------------------------------------------------------------------------------------------------
# The ORT inference wrapper (parity check, benchmark, serving)


def session_options(threads: int, level: str = SESSION_LEVEL):
    """ORT session options with intra-op threads pinned and one graph optimisation level."""
    import onnxruntime as ort

    levels = {
        "disable": "ORT_DISABLE_ALL",
        "basic": "ORT_ENABLE_BASIC",
        "extended": "ORT_ENABLE_EXTENDED",
        "all": "ORT_ENABLE_ALL",
    }
    if level not in levels:
        raise ValueError(f"ORT optimisation level must be one of {sorted(levels)}, got {level!r}")
    options = ort.SessionOptions()
    options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, levels[level])
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return options


class OnnxClassifier:
    """A text classifier served by ONNX Runtime on CPU.

    Args:
        onnx_path: An exported `model.onnx` / `model.int8.onnx` with a `logits` output.
        tokenizer_dir: Directory holding the tokenizer the model was exported with.
        threads: Intra-op threads of the ORT session (pinned).
        max_length: Texts are truncated to this many tokens.
        level: ORT graph optimisation level (disable, basic, extended, all).
    """

    def __init__(
        self,
        onnx_path: str | Path,
        tokenizer_dir: str | Path,
        threads: int = 1,
        max_length: int = 128,
        level: str = SESSION_LEVEL,
    ) -> None:
        import onnxruntime as ort
        from transformers import AutoTokenizer

        self.onnx_path = Path(onnx_path)
        if not self.onnx_path.is_file():
            raise FileNotFoundError(f"ONNX model {self.onnx_path} does not exist; run export-onnx first")
        try:
            self.session = ort.InferenceSession(
                str(self.onnx_path), session_options(threads, level), providers=["CPUExecutionProvider"]
            )
        except Exception as err:  # ORT raises its own exception types for unreadable models
            raise ValueError(f"ONNX Runtime cannot load {self.onnx_path}: {err}; re-run export-onnx") from err
        self.tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
        self.max_length = max_length
        self.input_names = [i.name for i in self.session.get_inputs()]
        self._check_signature(Path(tokenizer_dir))

    def _check_signature(self, tokenizer_dir: Path) -> None:
        given = set(self.tokenizer.model_input_names)
        if set(self.input_names) != given or "logits" not in [o.name for o in self.session.get_outputs()]:
            raise OnnxInputError(
                f"{self.onnx_path} takes inputs {self.input_names} and outputs "
                f"{[o.name for o in self.session.get_outputs()]}, but the tokenizer in {tokenizer_dir} "
                f"gives {sorted(given)}; expected a 'logits' output and the same inputs. Use the "
                "tokenizer saved next to the ONNX file by export-onnx (or re-export with this one)."
            )

    def encode(self, texts: list[str], pad_to: int | None = None) -> dict[str, np.ndarray]:
        """Tokenise to int64 arrays: padded to the longest text (truncated at max_length), or to
        exactly `pad_to` tokens (padded or truncated)."""
        padding, length = ("max_length", pad_to) if pad_to else (True, self.max_length)
        enc = self.tokenizer(
            list(texts), padding=padding, truncation=True, max_length=length, return_tensors="np"
        )
        return {name: enc[name].astype(np.int64) for name in self.input_names}

    def run(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        """Logits of one encoded batch."""
        return self.session.run(["logits"], feed)[0]

    def predict_logits(self, texts: list[str], batch_size: int = 32, pad_to: int | None = None) -> np.ndarray:
        """Logits (n_texts, n_labels) as float32, computed in batches."""
        chunks = [
            self.run(self.encode(texts[i : i + batch_size], pad_to)) for i in range(0, len(texts), batch_size)
        ]
        return np.concatenate(chunks).astype(np.float32) if chunks else np.zeros((0, 0), np.float32)

    def predict(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """Predicted label ids."""
        return self.predict_logits(texts, batch_size).argmax(axis=-1)


# --------------------------------------------------------------------------------------------------
# Parity


def torch_logits(model, feed: dict[str, np.ndarray]) -> np.ndarray:
    """PyTorch logits of one encoded batch (the same arrays ORT gets)."""
    import torch

    with torch.inference_mode():
        out = model(**{name: torch.from_numpy(array) for name, array in feed.items()})
    return out.logits.float().numpy()


def max_abs_diff(classifier: OnnxClassifier, model, texts: list[str], batch_size: int = 16) -> float:
    """max |ORT - PyTorch| over the logits of `texts`, batched and padded as in serving."""
    worst = 0.0
    for i in range(0, len(texts), batch_size):
        feed = classifier.encode(texts[i : i + batch_size])
        worst = max(worst, float(np.abs(classifier.run(feed) - torch_logits(model, feed)).max()))
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

    Returns:
        The max absolute difference on the logits.
    """
    if not texts:
        raise ValueError(f"parity check of {onnx_path} needs at least one real text; got none")
    if model is None:
        model, _ = load_model_dir(model_dir)
    classifier = OnnxClassifier(onnx_path, model_dir, threads=1, max_length=max_length)
    diff = max_abs_diff(classifier, model, texts)
    if not diff <= atol:  # also catches NaN
        raise ExportParityError(
            f"ONNX export of {model_dir} ({onnx_path}) differs from PyTorch: max |ORT - PyTorch| = "
            f"{diff:.3g} on the logits of {len(texts)} real texts, over the tolerance export.atol = "
            f"{atol:g}. The graph computes something else (e.g. a fused attention op on uneven heads); "
            "export with export.optimize=false to isolate it, or raise export.atol only if the gap is expected."
        )
    return diff


# --------------------------------------------------------------------------------------------------
# Export, optimisation, quantisation


def _logits_module(model, input_names: list[str]):
    """Wrap a classifier so the exported graph has named inputs and one `logits` output."""
    import torch

    class LogitsOnly(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids=None):
            extra = {"token_type_ids": token_type_ids} if "token_type_ids" in input_names else {}
            return self.model(input_ids=input_ids, attention_mask=attention_mask, **extra).logits

    return LogitsOnly().eval()


def _example_inputs(tokenizer, texts: list[str], max_length: int) -> dict[str, Any]:
    """A padded batch of 2 real texts; its length is kept != 2 so that torch.export does not
    merge the batch and sequence dimensions into one symbol."""
    pair = (list(texts) * 2)[:2]
    longest = max(len(ids) for ids in tokenizer(pair, truncation=True, max_length=max_length)["input_ids"])
    enc = tokenizer(
        pair, padding="max_length", truncation=True, max_length=max(longest, 3), return_tensors="pt"
    )
    return {name: enc[name] for name in tokenizer.model_input_names}


def _export_fp32(
    model, tokenizer, texts: list[str], path: Path, opset: int, max_length: int, large: bool
) -> None:
    import torch

    example = _example_inputs(tokenizer, texts, max_length)
    for name in example:
        if name not in ("input_ids", "attention_mask", "token_type_ids"):
            raise OnnxInputError(f"tokenizer input {name!r} is not supported by export-onnx")
    batch, sequence = torch.export.Dim("batch"), torch.export.Dim("sequence")
    with warnings.catch_warnings():
        # Every input shares the two axes; the exporter warns once per input that it reuses the name.
        warnings.filterwarnings("ignore", message=".*will not be used, since it shares the same shape")
        warnings.filterwarnings("ignore", message=".*LeafSpec.*is deprecated", category=FutureWarning)
        program = torch.onnx.export(
            _logits_module(model, list(example)),
            (),
            kwargs=example,
            output_names=["logits"],
            dynamic_shapes={name: {0: batch, 1: sequence} for name in example},
            opset_version=opset,
            dynamo=True,
            optimize=True,
            verify=False,
            report=False,
            verbose=False,
        )
    model.eval()
    program.save(str(path), external_data=large)
    _strip_debug_metadata(path, large)


def _strip_debug_metadata(path: Path, large: bool) -> None:
    """Drop the per-node stack traces and FX names the dynamo exporter records: they doubled the
    size of a tiny model's file and carry the build machine's source paths into serving."""
    import onnx

    model = onnx.load(str(path))
    for node in model.graph.node:
        del node.metadata_props[:]
    onnx.save(model, str(path), save_as_external_data=large, location=path.name + ".data")


def _optimize(path: Path, model, allow_attention_fusion: bool, large: bool) -> bool:
    """ORT transformer fusions in place (portable: opt_level=0); returns whether attention was fused."""
    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model

    options = FusionOptions("bert")
    options.enable_attention = allow_attention_fusion
    heads = model.config.num_attention_heads if allow_attention_fusion else 0
    hidden = model.config.hidden_size if allow_attention_fusion else 0
    optimized = optimize_model(str(path), "bert", heads, hidden, optimization_options=options, opt_level=0)
    fused = any(node.op_type in FUSED_ATTENTION_OPS for node in optimized.model.graph.node)
    if fused and not allow_attention_fusion:
        raise RuntimeError(f"ORT fused attention in {path} although it was disabled (uneven heads)")
    optimized.save_model_to_file(str(path), use_external_data_format=large)
    return fused


def _quantize(fp32: Path, int8: Path, large: bool) -> None:
    """Dynamic int8: weights quantised once, activations per call with one scale per batch tensor
    (so int8 predictions can depend on batch composition). ORT's recommended `quant_pre_process`
    is skipped: its symbolic shape inference fails on the dynamo graph ("Incomplete symbolic shape
    inference"), and quantize_dynamic works without it."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8, use_external_data_format=large)


def _head_counts(model) -> tuple[bool, bool]:
    """(uniform heads per layer, unpruned: every layer has config.num_attention_heads)."""
    from slimnlp.models import model_layout

    heads = model_layout(model)["heads_per_layer"]
    uniform = len(set(heads)) == 1
    return uniform, uniform and heads[0] == model.config.num_attention_heads


def _file_bytes(path: Path) -> int:
    data = path.with_name(path.name + ".data")
    return path.stat().st_size + (data.stat().st_size if data.is_file() else 0)


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
    fp32 = OnnxClassifier(out / ONNX_FILE, out, threads=1, max_length=max_length).predict_logits(texts)
    metrics: dict[str, Any] = {}
    if labels is not None:
        metrics["fp32_accuracy"] = float((fp32.argmax(-1) == np.asarray(labels)).mean())
    if quantized:
        int8 = OnnxClassifier(out / INT8_FILE, out, threads=1, max_length=max_length).predict_logits(texts)
        metrics["int8_agreement"] = float((int8.argmax(-1) == fp32.argmax(-1)).mean())
        metrics["int8_max_abs_diff"] = float(np.abs(int8 - fp32).max())
        if labels is not None:
            metrics["int8_accuracy"] = float((int8.argmax(-1) == np.asarray(labels)).mean())
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
    uniform, unpruned = _head_counts(model)
    large = sum(p.numel() * p.element_size() for p in model.parameters()) > EXTERNAL_DATA_BYTES

    # 1. export, 2. fuse (never attention on uneven heads), 3. check parity at the serving level
    _export_fp32(model, tokenizer, texts, out / ONNX_FILE, cfg.opset, max_length, large)
    fused = _optimize(out / ONNX_FILE, model, unpruned, large) if cfg.optimize else False
    diff = check_onnx_parity(
        out / ONNX_FILE, model_dir, texts[: cfg.parity_samples], cfg.atol, max_length, model=model
    )
    # 4. int8 (checked for accuracy and agreement, not parity: int8 is not meant to match fp32)
    if cfg.quantize_int8:
        _quantize(out / ONNX_FILE, out / INT8_FILE, large)
    metrics: dict[str, Any] = {
        "max_abs_diff": diff,
        "atol": cfg.atol,
        "parity_samples": min(len(texts), cfg.parity_samples),
        "onnx_size_bytes": _file_bytes(out / ONNX_FILE),
        "int8_size_bytes": _file_bytes(out / INT8_FILE) if cfg.quantize_int8 else None,
        "fused_attention": fused,
        "uniform_heads": uniform,
        "opset": cfg.opset,
        "exporter": "torch.onnx dynamo",
        "ort_session_level": SESSION_LEVEL,
    }
    metrics |= _accuracy_metrics(out, texts, labels, max_length, cfg.quantize_int8)
    metrics["export_seconds"] = time.perf_counter() - start
    (out / METRICS_FILE).write_text(json.dumps(metrics, indent=2, sort_keys=True), encoding="utf-8")
    return metrics
