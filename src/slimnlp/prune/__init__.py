"""Pruning methods, one folder each, found by name in one registry.

    from slimnlp.prune import get_pruner, registered_pruners
    report = get_pruner("importance").prune(model, tokenizer, train, dev, context)

`base` holds the `Pruner` protocol, the `PruneContext` a pruner runs in, the one `PruneReport` shape
and the registry; `removal` the physical removal every method ends with. Importing this package
registers the shipped methods (`importance`, `block_movement`); each has its config section
`prune.<name>` in `slimnlp.config.prune`.
"""

from slimnlp.prune import block_movement, importance, nas, oneshot  # noqa: F401  (registers the pruners)
from slimnlp.prune.base import (
    PruneContext,
    Pruner,
    PruneReport,
    get_pruner,
    register_pruner,
    registered_pruners,
)

__all__ = [
    "PruneContext",
    "PruneReport",
    "Pruner",
    "get_pruner",
    "register_pruner",
    "registered_pruners",
]
