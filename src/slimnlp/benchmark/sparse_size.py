"""Size on disk of a model, dense and zstd-compressed: what zeroed (unstructured, N:M) weights buy.

    sizes = compressed_size("runs/x/pruned")          # a model directory: its model.safetensors
    sizes = compressed_size("runs/x/onnx/model.onnx") # or one file (an .onnx with its external data)

Zeroed weights keep the dense tensors the same size; only a compressor (or a sparse format) turns
them into fewer bytes. Unstructured and N:M sparsity make no ONNX Runtime CPU kernel faster.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

WEIGHT_FILES = ("model.safetensors",)


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        found = [path / name for name in WEIGHT_FILES if (path / name).is_file()]
        found += sorted(p for p in path.glob("*.onnx*") if p.is_file())
        if not found:
            raise FileNotFoundError(f"{path} holds no model.safetensors or .onnx file to measure")
        return found
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist; pass a model directory or a model file")
    siblings = [p for p in path.parent.glob(path.name + ".*") if p.is_file()]  # external data
    return [path, *siblings]


def compressed_size(path: str | Path, level: int = 3) -> dict[str, Any]:
    """{size_bytes, zstd_bytes, zstd_ratio} of the weight files behind `path` (zstd at `level`)."""
    import zstandard

    compressor = zstandard.ZstdCompressor(level=level)
    dense = packed = 0
    for file in _files(Path(path)):
        data = file.read_bytes()
        dense += len(data)
        packed += len(compressor.compress(data))
    return {"size_bytes": dense, "zstd_bytes": packed, "zstd_ratio": packed / dense if dense else None}
