"""2:4 semi-structured sparsity on CUDA: PyTorch's cuSPARSELt / CUTLASS kernels, the one runtime in
which the zeros of an N:M-pruned model (`prune.<magnitude|wanda|sparsegpt>.pattern: 2:4`) buy speed.

    from slimnlp.runtime.sparse24 import unavailable_reason, to_semi_structured
    if (reason := unavailable_reason()) is None:
        model = model.to("cuda", torch.float16)
        report = to_semi_structured(model)       # every 2:4 Linear now holds compressed weights
    # `benchmarks/sparse24_cuda.py` times the same model dense and sparse in interleaved rounds.

ONNX Runtime on CPU has no such kernel: there a 2:4 model runs at the dense model's speed (the
benchmark reports it anyway, and its compressed size). The kernels need an NVIDIA GPU of compute
capability 8.0 or newer (A100, H100, ...), fp16 or bf16 weights, and Linear shapes that are
multiples of the kernel's tile (16 or 32 rows, 16 or 64 columns); a Linear that does not fit stays
dense and is listed in the report with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from slimnlp.prune.oneshot.masks import holds_n_m

MIN_CAPABILITY = (8, 0)


def unavailable_reason() -> str | None:
    """None where the 2:4 kernels can run here, else why not (in words a user can act on)."""
    if not torch.cuda.is_available():
        return (
            "no CUDA device: PyTorch's 2:4 sparse kernels run only on NVIDIA GPUs of compute "
            "capability >= 8.0; on CPU a 2:4 model runs at dense speed"
        )
    capability = torch.cuda.get_device_capability()
    if capability < MIN_CAPABILITY:
        return (
            f"GPU {torch.cuda.get_device_name()} has compute capability {capability[0]}.{capability[1]}; "
            "the 2:4 sparse kernels need >= 8.0 (Ampere or newer)"
        )
    return None


@dataclass
class SparseReport:
    """Which Linears now hold compressed 2:4 weights, and which stayed dense (name -> reason)."""

    backend: str
    converted: list[str] = field(default_factory=list)
    dense: dict[str, str] = field(default_factory=dict)


def _backend() -> str:
    """cuSPARSELt where this torch build has it, else CUTLASS (also what PyTorch falls back to)."""
    from torch.sparse import SparseSemiStructuredTensor

    if not torch.backends.cusparselt.is_available():
        SparseSemiStructuredTensor._FORCE_CUTLASS = True
    return "cutlass" if SparseSemiStructuredTensor._FORCE_CUTLASS else "cusparselt"


def to_semi_structured(model: nn.Module) -> SparseReport:
    """Swap the weight of every Linear that holds a 2:4 pattern for PyTorch's compressed
    semi-structured tensor, in place. The model must already be on CUDA in fp16 or bf16.

    Raises:
        RuntimeError: the kernels cannot run here (`unavailable_reason`), or the model is not on CUDA.
        ValueError: no Linear holds a 2:4 pattern (prune with pattern 2:4 first).
    """
    reason = unavailable_reason()
    if reason is not None:
        raise RuntimeError(f"2:4 sparse kernels unavailable: {reason}")
    parameter = next(model.parameters())
    if parameter.device.type != "cuda" or parameter.dtype not in (torch.float16, torch.bfloat16):
        raise RuntimeError(
            f"the model is on {parameter.device} in {parameter.dtype}: move it first, "
            "model.to('cuda', torch.float16)"
        )
    from torch.sparse import to_sparse_semi_structured

    report = SparseReport(backend=_backend())
    for name, module in model.named_modules():
        if not isinstance(module, nn.Linear):
            continue
        weight = module.weight.detach()
        if not holds_n_m(weight, 2, 4):
            report.dense[name] = "no 2:4 pattern"
            continue
        try:
            compressed = to_sparse_semi_structured(weight.contiguous())
        except RuntimeError as error:  # a shape the kernel's tiles do not fit
            report.dense[name] = str(error).splitlines()[0]
            continue
        module.weight = nn.Parameter(compressed, requires_grad=False)
        report.converted.append(name)
    if not report.converted:
        raise ValueError(
            "no Linear of the model holds a 2:4 pattern (or none fits the kernel's shapes: "
            f"{sorted(set(report.dense.values()))}); prune it with prune.method=magnitude|wanda|sparsegpt "
            "and prune.<method>.pattern=2:4 first"
        )
    return report
