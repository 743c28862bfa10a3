"""The ONNX graph of export-onnx: export from PyTorch and dynamic int8 (fusion: `slimnlp.export.fusion`).

    from slimnlp.export.graph import export_fp32, quantize_int8
    export_fp32(model, tokenizer, texts, Path("model.onnx"), opset=18, max_length=128, large=False)

Choices, measured on these machines (torch 2.13, transformers 5.24, onnxruntime 1.32, Nov 2026):
- Exporter: `torch.onnx.export(dynamo=True)`. Both exporters reproduce transformers-5 BERT with
  dynamic batch/sequence axes and uneven heads per layer (max |ORT - PT| ~1e-6 on O(1) logits), but
  the legacy TorchScript exporter is deprecated ("will be removed"), and its tracer bakes Python
  branches of transformers' mask code into the graph (TracerWarnings), while torch.export refuses
  to specialise silently. The price is export time: ~5-12 s instead of ~1 s, once per model.
- Attention fusion: see `slimnlp.export.fusion`. ORT's optimizer finds no attention pattern in the
  dynamo graph, so the fused candidate is exported apart (TorchScript, eager attention), with the
  head count of each layer read from the graph: one num_heads for the whole graph (what the
  optimizer's arguments allow) was silently wrong on uneven heads (max |ORT - PT| = 0.86 on [4, 3,
  2, 1] heads).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from slimnlp.runtime.onnx import OnnxInputError


def logits_module(model, input_names: list[str]):
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


def example_inputs(tokenizer, texts: list[str], max_length: int) -> dict[str, Any]:
    """A padded batch of 2 real texts; its length is kept != 2 so that torch.export does not
    merge the batch and sequence dimensions into one symbol."""
    pair = (list(texts) * 2)[:2]
    longest = max(len(ids) for ids in tokenizer(pair, truncation=True, max_length=max_length)["input_ids"])
    enc = tokenizer(
        pair, padding="max_length", truncation=True, max_length=max(longest, 3), return_tensors="pt"
    )
    return {name: enc[name] for name in tokenizer.model_input_names}


def export_fp32(
    model, tokenizer, texts: list[str], path: Path, opset: int, max_length: int, large: bool
) -> None:
    """Export with dynamic batch and sequence axes, named tokenizer inputs and one `logits` output;
    `large` puts the weights in `<name>.data` beside the file (the 2 GB protobuf limit)."""
    import torch

    example = example_inputs(tokenizer, texts, max_length)
    for name in example:
        if name not in ("input_ids", "attention_mask", "token_type_ids"):
            raise OnnxInputError(f"tokenizer input {name!r} is not supported by export-onnx")
    batch, sequence = torch.export.Dim("batch"), torch.export.Dim("sequence")
    with warnings.catch_warnings():
        # Every input shares the two axes; the exporter warns once per input that it reuses the name.
        warnings.filterwarnings("ignore", message=".*will not be used, since it shares the same shape")
        warnings.filterwarnings("ignore", message=".*LeafSpec.*is deprecated", category=FutureWarning)
        program = torch.onnx.export(
            logits_module(model, list(example)),
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
    strip_debug_metadata(path, large)


def strip_debug_metadata(path: Path, large: bool) -> None:
    """Drop the per-node stack traces and FX names the dynamo exporter records: they doubled the
    size of a tiny model's file and carry the build machine's source paths into serving."""
    import onnx

    model = onnx.load(str(path))
    for node in model.graph.node:
        del node.metadata_props[:]
    onnx.save(model, str(path), save_as_external_data=large, location=path.name + ".data")


def quantize_int8(fp32: Path, int8: Path, large: bool) -> None:
    """Dynamic int8: weights quantised once, activations per call with one scale per batch tensor
    (so int8 predictions can depend on batch composition). ORT's recommended `quant_pre_process`
    is skipped: its symbolic shape inference fails on the dynamo graph ("Incomplete symbolic shape
    inference"), and quantize_dynamic works without it."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Shape inference does not type the outputs of ORT's fused ops (Attention with per-layer heads):
    # every untyped tensor of these graphs is float32.
    quantize_dynamic(
        str(fp32),
        str(int8),
        weight_type=QuantType.QInt8,
        use_external_data_format=large,
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )


def head_counts(model) -> tuple[bool, bool]:
    """(uniform heads per layer, unpruned: every layer has config.num_attention_heads)."""
    from slimnlp.models import model_layout

    heads = model_layout(model)["heads_per_layer"]
    uniform = len(set(heads)) == 1
    return uniform, uniform and heads[0] == model.config.num_attention_heads
