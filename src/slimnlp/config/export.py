"""export-onnx: opset, the parity tolerance against PyTorch, optimisation and int8."""

from __future__ import annotations

from dataclasses import dataclass

from slimnlp.config.base import _help, _require


@dataclass(frozen=True)
class ExportConfig:
    opset: int = _help("ONNX opset.", 18)
    atol: float = _help("Maximum |ORT - PyTorch| on the logits of real inputs; larger fails the step.", 1e-3)
    quantize_int8: bool = _help("Also write an ORT dynamic int8 model (its accuracy is measured).", True)
    optimize: bool = _help("ORT graph fusion (per-layer heads); kept where it measures faster.", True)
    parity_samples: int = _help("Test texts used for the parity check.", 64)

    def __post_init__(self) -> None:
        _require(self.atol > 0, "atol", f"must be > 0, got {self.atol}")
        _require(11 <= self.opset <= 23, "opset", f"must be in [11, 23], got {self.opset}")
        _require(self.parity_samples >= 1, "parity_samples", f"must be >= 1, got {self.parity_samples}")
