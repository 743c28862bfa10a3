"""Block movement pruning (Lagunas et al. 2021): `masks` (scores, top-k masks, the cubic schedule),
`removal` (bake the masks in, remove empty heads and masked neurons), `pruner` (the registered method)."""

from slimnlp.prune.block_movement.pruner import BlockMovementPruner, block_movement_prune

__all__ = ["BlockMovementPruner", "block_movement_prune"]
