"""Graph fusion of export-onnx: ORT's transformer fusions with the head count of each layer read
from the graph, checked for parity, and kept only where they measure faster.

    from slimnlp.export.fusion import export_fused
    heads = export_fused(model, tokenizer, texts, Path("model.fused.onnx"), opset=17, max_length=128)
    # [12, 9, 6, ...]: num_heads of each fused Attention op, one per encoder layer

Why this path, measured on these machines (torch 2.13, transformers 5.24, onnxruntime 1.32):
- `onnxruntime.transformers.optimizer` matches BERT attention only in graphs of the TorchScript
  exporter with eager attention. On the dynamo graph (SDPA or eager) it finds no attention at all;
  on the TorchScript graph it finds every layer but cannot read the head count, because
  transformers 5 reshapes to (batch, sequence, -1, head_size) and the -1 is all it sees.
- So the head count of each layer is detected from the graph itself: the output width of that
  layer's Q projection divided by head_size. A pruned model with [3, 1] heads gets Attention ops
  with num_heads 3 and 1, and matches PyTorch to ~3e-6. (Passing one num_heads for the whole graph,
  what the optimizer's arguments allow, is silently wrong on uneven heads: tests/export/test_export.py.)
- Fusion is a candidate, not a rule: export-onnx times the plain and the fused graph, fp32 and int8
  apart, interleaved on real texts, and keeps whichever is faster (`choose_faster`).
"""

from __future__ import annotations

import logging
import math
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from slimnlp.export.graph import example_inputs, logits_module
from slimnlp.runtime.timing import interleaved_rounds, timed_calls

ATTENTION_OPS = ("Attention", "MultiHeadAttention")
# Where fusion is timed: batch 1 and 32 at up to 128 tokens (capped at the model's max length).
TIMING_POINTS = ((1, 128), (32, 128))
TIMING_ROUNDS, TIMING_ITERATIONS, TIMING_WARMUP = 3, 3, 1
SLOW_CALL_MS = 500.0


class FusionError(RuntimeError):
    """ORT's fusion did not produce a usable graph (no attention fused, or unknown head counts)."""


def _per_layer_attention_fusion():
    """FusionAttention that reads each layer's head count from its Q projection (see module doc)."""
    from onnxruntime.transformers.fusion_attention import FusionAttention

    class PerLayerHeadsAttention(FusionAttention):
        def get_num_heads_and_hidden_size(self, reshape_q) -> tuple[int, int]:
            heads, hidden = super().get_num_heads_and_hidden_size(reshape_q)
            if heads > 0 and hidden > 0:
                return heads, hidden
            return self._heads_from_q_projection(reshape_q)

        def _heads_from_q_projection(self, reshape_q) -> tuple[int, int]:
            shape = self.model.get_parent(reshape_q, 1)
            head_size = None
            if shape is not None and shape.op_type == "Concat" and len(shape.input) == 4:
                head_size = self.model.get_constant_value(shape.input[3])
            bias_add = self.model.get_parent(reshape_q, 0)
            matmul = bias_add if bias_add is not None and bias_add.op_type == "MatMul" else None
            if bias_add is not None and bias_add.op_type == "Add":
                weight_side = 0 if self.model.get_initializer(bias_add.input[1]) is not None else 1
                matmul = self.model.get_parent(bias_add, weight_side)
            weight = self.model.get_initializer(matmul.input[1]) if matmul is not None else None
            if head_size is None or weight is None or len(weight.dims) != 2:
                return 0, 0
            width, size = int(weight.dims[1]), int(np.asarray(head_size).ravel()[0])
            if size <= 0 or width % size:
                return 0, 0
            return width // size, width

    return PerLayerHeadsAttention


def export_torchscript(model, tokenizer, texts: list[str], path: Path, opset: int, max_length: int) -> None:
    """The TorchScript export (eager attention, dynamic batch and sequence axes) that ORT's BERT
    fusions recognise; the model's attention implementation is restored afterwards."""
    import torch

    example = example_inputs(tokenizer, texts, max_length)
    previous = model.config._attn_implementation
    model.set_attn_implementation("eager")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and tracer warnings
            torch.onnx.export(
                logits_module(model, list(example)),
                (),
                str(path),
                kwargs=example,
                input_names=list(example),
                output_names=["logits"],
                dynamic_axes={name: {0: "batch", 1: "sequence"} for name in example},
                opset_version=min(opset, 17),  # the TorchScript exporter's newest well-supported opset
                dynamo=False,
            )
    finally:
        model.set_attn_implementation(previous)
        model.eval()


def fuse_graph(source: Path, target: Path) -> list[int]:
    """ORT's BERT fusions (attention with per-layer heads, embedding and skip layer norms, bias
    GELU) from `source` into `target`; returns num_heads of each fused attention op, in order.

    Raises:
        FusionError: no attention op was fused (the graph is not the BERT pattern ORT knows).
    """
    import onnx
    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.onnx_model_bert import BertOnnxModel

    options = FusionOptions("bert")
    quiet = logging.getLogger("onnxruntime.transformers")  # per-layer hidden sizes differ by design
    level, quiet.level = quiet.level, logging.ERROR
    try:
        graph = BertOnnxModel(onnx.load(str(source)), 0, 0)
        graph.attention_fusion = _per_layer_attention_fusion()(
            graph, 0, 0, graph.attention_mask, options.use_multi_head_attention
        )
        graph.optimize(options)
    finally:
        quiet.level = level
    _rewire_embedding_inputs(graph.model.graph)
    heads = [
        next(a.i for a in node.attribute if a.name == "num_heads")
        for node in graph.model.graph.node
        if node.op_type in ATTENTION_OPS
    ]
    if not heads:
        ops = Counter(node.op_type for node in graph.model.graph.node)
        raise FusionError(f"ORT fused no attention in {source} (ops: {dict(ops.most_common(8))})")
    graph.save_model_to_file(str(target))
    return heads


def _rewire_embedding_inputs(graph) -> None:
    """ORT 1.32's EmbedLayerNormalization fusion wires token_type_ids in as the mask and
    attention_mask in as the segment ids when a graph has both inputs (max |ORT - PT| = 2.7 on the
    tiny teacher); put each where the op expects it: input 1 segment ids, input 7 the mask."""
    source = {out: node.input[0] for node in graph.node if node.op_type == "Cast" for out in node.output}
    for node in graph.node:
        if node.op_type != "EmbedLayerNormalization" or len(node.input) < 8:
            continue
        segment, mask = (source.get(name, name) for name in (node.input[1], node.input[7]))
        if segment == "attention_mask" and mask == "token_type_ids":
            node.input[1], node.input[7] = node.input[7], node.input[1]


def export_fused(model, tokenizer, texts: list[str], path: Path, opset: int, max_length: int) -> list[int]:
    """Export for fusion and fuse into `path`; returns the fused per-layer head counts."""
    raw = path.with_name(path.stem + ".unfused.onnx")
    try:
        export_torchscript(model, tokenizer, texts, raw, opset, max_length)
        return fuse_graph(raw, path)
    finally:
        raw.unlink(missing_ok=True)


# --------------------------------------------------------------------------------------------------
# Keep fusion only where it measures faster


def time_files(
    files: dict[str, Path], tokenizer_dir: Path, texts: list[str], max_length: int, threads: int = 1
) -> dict[str, dict[str, float]]:
    """Median ms per call of each ONNX file at each of TIMING_POINTS, files interleaved round-robin.

    Returns:
        {point "b<batch>_s<length>": {file name: median ms}}.
    """
    from slimnlp.runtime.onnx import OnnxRunner

    runners = {
        name: OnnxRunner(path, tokenizer_dir, threads=threads, max_length=max_length, spinning=False)
        for name, path in files.items()
    }
    medians: dict[str, dict[str, float]] = {}
    for batch_size, length in TIMING_POINTS:
        length = min(length, max_length)
        batch = [texts[i % len(texts)] for i in range(batch_size)]
        calls = {}
        for name, runner in runners.items():
            feed = runner.encode(batch, pad_to=length)
            calls[name] = lambda runner=runner, feed=feed: runner.run(feed)
        rounds, iterations = TIMING_ROUNDS, TIMING_ITERATIONS
        if min(timed_calls(call, 1)[0] for call in calls.values()) > SLOW_CALL_MS:
            rounds, iterations = 2, 1  # BERT-base at batch 32: seconds per call, two rounds suffice
        samples = interleaved_rounds(calls, rounds, iterations, TIMING_WARMUP)
        medians[f"b{batch_size}_s{length}"] = {name: float(np.median(ms)) for name, ms in samples.items()}
    return medians


def fusion_speedup(medians: dict[str, dict[str, float]], plain: str, fused: str) -> float:
    """Geometric mean over the timing points of plain ms / fused ms (> 1: fusion is faster)."""
    ratios = [point[plain] / point[fused] for point in medians.values()]
    return float(math.exp(sum(math.log(r) for r in ratios) / len(ratios)))


def choose_faster(speedup: float) -> bool:
    """Keep the fused graph only when it measured faster than the plain one."""
    return speedup > 1.0


def fusion_metrics(heads: list[int], medians: dict[str, Any], speedups: dict[str, float]) -> dict[str, Any]:
    """The figures export-onnx reports about fusion (flat keys, for metrics.json and MLflow)."""
    metrics: dict[str, Any] = {"fused_heads_per_layer": heads, "fusion_timing_ms": medians}
    for precision, speedup in speedups.items():
        metrics[f"fusion_speedup_{precision}"] = speedup
        metrics[f"fusion_kept_{precision}"] = choose_faster(speedup)
    return metrics


def check_other_shapes(
    fused: Path, plain: Path, tokenizer_dir: Path, texts: list[str], max_length: int, atol: float
) -> float:
    """max |fused - plain| at batch 1 and 3, padded to a short length and to max_length: the
    TorchScript trace must not have kept the example's shape. The plain graph passed parity already.

    Raises:
        FusionError: the graphs differ by more than atol at some shape.
    """
    from slimnlp.runtime.onnx import OnnxRunner

    runners = [OnnxRunner(path, tokenizer_dir, threads=1, max_length=max_length) for path in (fused, plain)]
    worst = 0.0
    for batch_size in (1, 3):
        batch = [texts[i % len(texts)] for i in range(batch_size)]
        for length in sorted({min(5, max_length), max_length}):
            feed = runners[0].encode(batch, pad_to=length)
            worst = max(worst, float(np.abs(runners[0].run(feed) - runners[1].run(feed)).max()))
    if not worst <= atol:
        raise FusionError(f"fused graph {fused} differs from the plain export by {worst:.3g} at other shapes")
    return worst
