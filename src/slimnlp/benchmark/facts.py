"""Facts a benchmark records without timing anything: the machine, and each model's size.

    from slimnlp.benchmark.facts import environment, model_facts
    environment(threads=2)["isa_flags"]  # {"avx2": True, "avx512_vnni": False, "amx_tile": False, ...}

The ISA flags are the ones that decide which int8/bf16 kernels PyTorch and ONNX Runtime can use
(VNNI for int8 dot products, AMX tiles), so an int8 speed-up is only comparable between machines
that share them.
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path
from typing import Any

ISA_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile", "amx_bf16", "amx_int8")


def environment(threads: int) -> dict[str, Any]:
    """CPU model, ISA flags that matter for int8/bf16 kernels, GPU model (None without CUDA; the
    benchmark itself runs on CPU), library versions, threads."""
    import onnxruntime
    import torch
    import transformers

    cpu_model, flags = platform.processor() or platform.machine(), set()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and cpu_model in ("", platform.processor(), platform.machine()):
                cpu_model = value.strip()
            elif key.strip() == "flags" and not flags:
                flags = set(value.split())
    return {
        "cpu_model": cpu_model,
        "isa_flags": {flag: flag in flags for flag in ISA_FLAGS},
        "logical_cpus": os.cpu_count(),
        "cpus_available": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "threads": threads,
        # Other work on the machine inflates latencies (multi-threaded PyTorch the most): say so.
        "load_average_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "gpu_model": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "onnxruntime": onnxruntime.__version__,
        "transformers": transformers.__version__,
        "timestamp_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def encoder_flops(model, sequence_length: int) -> int:
    """Multiply-adds x 2 of one sequence through the encoder, pooler and classifier, from the
    actual per-layer shapes (so pruned heads and neurons count as removed). Embedding lookups,
    softmax, LayerNorm and activations are left out: they are a few percent at these sizes."""
    from slimnlp.models import model_layout

    layout, hidden, length = model_layout(model), model.config.hidden_size, sequence_length
    flops = 0
    for heads, ffn in zip(layout["heads_per_layer"], layout["intermediate_sizes"], strict=True):
        attn = heads * layout["head_dim"]
        flops += 2 * length * hidden * attn * 4  # query, key, value, output projections
        flops += 2 * length * length * attn * 2  # scores and weighted sum
        flops += 2 * length * hidden * ffn * 2  # FFN in and out
    return flops + 2 * hidden * hidden + 2 * hidden * model.config.num_labels


def disk_size(variant) -> dict[str, Any]:
    """Size on disk of what is served: the model directory (pytorch, sklearn) or the .onnx file (+ data)."""
    from slimnlp.models import dir_size_bytes
    from slimnlp.runtime.onnx import onnx_file_bytes

    is_dir = variant.runtime in ("pytorch", "sklearn")
    size = dir_size_bytes(variant.path) if is_dir else onnx_file_bytes(variant.path)
    facts = {"size_bytes": size, "size_mb": size / 1e6}
    if variant.runtime != "sklearn":  # zeroed weights shrink only once compressed (sparse_size.py)
        from slimnlp.benchmark.sparse_size import compressed_size

        facts["weights_zstd_bytes"] = compressed_size(variant.path)["zstd_bytes"]
    return facts


def model_facts(model_dir: str | Path, sequence_length: int) -> dict[str, Any]:
    """Parameters and FLOPs, counted on the PyTorch model whatever runtime serves it."""
    from slimnlp.models import count_parameters, load_model_dir

    model, _ = load_model_dir(model_dir)
    params = count_parameters(model)
    return {
        "params_total": params["total"],
        "params_embeddings": params["embeddings"],
        "params_non_embedding": params["non_embedding"],
        "gflops_per_sequence": encoder_flops(model, sequence_length) / 1e9,
    }
