"""What a nas prune step leaves under `<out>/prune_artifacts/`, and slicing any front point out of it.

    slice_front_point("runs/x/pruned/prune_artifacts", "4x512|-|2x256|4x1024", "runs/x/point")

`supernet/` is the trained super-network (a model directory): every front point but the zero-layer
one is a slice of it. `pooled/` is the zero-layer point (`slimnlp.prune.nas.pooled`), trained apart.
"""

from __future__ import annotations

from pathlib import Path

from slimnlp.models import load_model_dir, save_model_dir
from slimnlp.prune.nas.space import SubNetwork
from slimnlp.prune.nas.supernet import slice_subnetwork

ARTIFACTS = "prune_artifacts"
SUPERNET_DIR = "supernet"
POOLED_DIR = "pooled"


def slice_front_point(artifacts: str | Path, arch: str, out_dir: str | Path) -> Path:
    """Any sub-network (a front point's `arch`) of the saved super-network in `artifacts` (a prune
    step's prune_artifacts/) as a model directory; the zero-layer point is its own saved model."""
    sub = SubNetwork.from_key(arch)
    if not sub.kept_layers and (Path(artifacts) / POOLED_DIR).is_dir():
        model, tokenizer = load_model_dir(Path(artifacts) / POOLED_DIR)
        return save_model_dir(model, tokenizer, out_dir)
    model, tokenizer = load_model_dir(Path(artifacts) / SUPERNET_DIR)
    slice_subnetwork(model, sub)
    return save_model_dir(model, tokenizer, out_dir)
