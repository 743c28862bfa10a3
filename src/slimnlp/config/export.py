"""export-onnx: opset, the parity tolerance against PyTorch, optimisation and int8."""

from __future__ import annotations

from dataclasses import dataclass

from slimnlp.config.base import Section, _help


@dataclass(frozen=True)
class ExportConfig(Section):
    opset: int = _help("ONNX opset.", 18, ge=11, le=23)
    atol: float = _help(
        "Maximum |ORT - PyTorch| on the logits of real inputs; larger fails the step.", 1e-3, gt=0
    )
    quantize_int8: bool = _help("Also write an ORT dynamic int8 model (its accuracy is measured).", True)
    optimize: bool = _help("ORT graph fusion (per-layer heads); kept where it measures faster.", True)
    parity_samples: int = _help("Test texts used for the parity check.", 64, ge=1)
