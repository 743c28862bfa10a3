"""prune.importance: Taylor importance pruning's section and its record (torch-free).

prune:
  method: importance
  target_sparsity: 0.25
  importance: {batches: 16, batch_size: 32}
"""

from __future__ import annotations

from dataclasses import dataclass

from slimnlp.config.base import _help
from slimnlp.prune.descriptor import PruneMethod, PruneMethodConfig


@dataclass(frozen=True)
class ImportanceConfig(PruneMethodConfig):
    batches: int = _help("Training batches used to estimate importance.", 16, ge=1)
    batch_size: int = _help("Texts per importance batch.", 32, ge=1)


METHOD = PruneMethod(
    name="importance",
    config=ImportanceConfig,
    pruner="slimnlp.prune.importance.pruner:ImportancePruner",
    summary=(
        "first-order Taylor importance of heads and FFN neurons over a few training batches, one shot, "
        "then physical removal"
    ),
)
