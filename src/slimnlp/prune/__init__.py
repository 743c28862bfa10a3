"""Pruning methods, one folder each, found by name in one table. Importing this package is torch-free.

    from slimnlp.prune import get_pruner, prune_method
    prune_method("wanda").calibrates                     # True: the traits of a method, in one record
    report = get_pruner("importance").prune(model, tokenizer, train, dev, context)

`descriptor` holds `PruneMethod` (a method's record: config class, pruner path, traits); `methods`
the table of registered methods; `base` the `Pruner` protocol, the `PruneContext` a pruner runs in
and the one `PruneReport` shape; `removal` the physical removal every structured method ends with.
A method's folder holds `config.py` (its section and its `PruneMethod`) and its pruner.
"""

# The config package registers the methods (its prune section is built from the table): importing it
# first keeps the order one way whichever of the two a program imports first.
import slimnlp.config  # noqa: F401
from slimnlp.prune.base import PruneContext, Pruner, PruneReport
from slimnlp.prune.descriptor import PruneMethod, PruneMethodConfig
from slimnlp.prune.methods import (
    PRUNE_METHODS,
    get_pruner,
    prune_method,
    prune_methods,
    register_prune_method,
)

__all__ = [
    "PRUNE_METHODS",
    "PruneContext",
    "PruneMethod",
    "PruneMethodConfig",
    "PruneReport",
    "Pruner",
    "get_pruner",
    "prune_method",
    "prune_methods",
    "register_prune_method",
]
