"""Block movement pruning (Lagunas et al. 2021): `masks` (scores, top-k masks, the cubic schedule),
`removal` (bake the masks in, remove empty heads and masked neurons), `pruner` (the method's code),
`config` (its section and its record, torch-free)."""

from __future__ import annotations

import importlib
from typing import Any

# Where each public name lives; imported on first use (the code imports torch, the config does not).
_HOME = {
    "BlockMovementPruner": "pruner",
    "block_movement_prune": "pruner",
}


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["BlockMovementPruner", "block_movement_prune"]
