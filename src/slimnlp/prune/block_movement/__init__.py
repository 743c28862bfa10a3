"""Block movement pruning (Lagunas et al. 2021): `masks` (scores, top-k masks, the cubic schedule),
`removal` (bake the masks in, remove empty heads and masked neurons), `pruner` (the method's code),
`config` (its section and its record, torch-free)."""

from __future__ import annotations

from slimnlp.prune.lazy import lazy_names

# Where each public name lives; imported on first use (the code imports torch, the config does not).
_HOME = {
    "BlockMovementPruner": "pruner",
    "block_movement_prune": "pruner",
}

__getattr__ = lazy_names(__name__, _HOME)


__all__ = ["BlockMovementPruner", "block_movement_prune"]
