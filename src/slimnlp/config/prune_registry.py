"""The pruning methods' table as the config sees it (torch-free): the names `prune.method` accepts and
the sections a method reads beyond `prune`. The table itself, one `PruneMethod` record per method,
is `slimnlp.prune.methods`; this module only names it for config-side importers.
"""

from __future__ import annotations

from slimnlp.prune.descriptor import PruneMethod, PruneMethodConfig
from slimnlp.prune.methods import PRUNE_METHODS, method_reads, prune_method, prune_methods

__all__ = [
    "PRUNE_METHODS",
    "PruneMethod",
    "PruneMethodConfig",
    "method_reads",
    "prune_method",
    "prune_methods",
]
