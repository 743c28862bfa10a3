"""The pruning methods, found by name: one registration per method. Torch-free.

    from slimnlp.prune.methods import prune_method
    prune_method("nas").uses_target_sparsity      # False
    prune_method("wanda").load_pruner()           # imports the pruner's module

The shipped methods are registered below, one line each. A method shipped in another package
registers itself through the entry point group `slimnlp.prune_methods` (name = "module:METHOD",
the method's `PruneMethod`), read when `slimnlp.config` is first imported, so that its section
`prune.<name>` is part of the config from the start:

    [project.entry-points."slimnlp.prune_methods"]
    my_method = "my_package.my_method.config:METHOD"
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

from slimnlp.prune.block_movement.config import METHOD as BLOCK_MOVEMENT
from slimnlp.prune.descriptor import PruneMethod
from slimnlp.prune.importance.config import METHOD as IMPORTANCE
from slimnlp.prune.nas.config import METHOD as NAS
from slimnlp.prune.oneshot.config import MAGNITUDE, SPARSEGPT, STRUCTURED_ONESHOT, WANDA

ENTRY_POINT_GROUP = "slimnlp.prune_methods"

PRUNE_METHODS: dict[str, PruneMethod] = {}


def register_prune_method(method: PruneMethod) -> PruneMethod:
    """Add a method to the table (a name registered twice fails, naming both)."""
    if method.name in PRUNE_METHODS:
        raise ValueError(
            f"prune method {method.name!r} is registered twice ({PRUNE_METHODS[method.name]}, {method})"
        )
    PRUNE_METHODS[method.name] = method
    return method


def prune_method(name: str) -> PruneMethod:
    """The method called `name`; a ValueError names the registered ones."""
    if name not in PRUNE_METHODS:
        raise ValueError(f"no pruning method named {name!r}; registered: {prune_methods()}")
    return PRUNE_METHODS[name]


def prune_methods() -> tuple[str, ...]:
    """The registered method names, in registration order."""
    return tuple(PRUNE_METHODS)


def method_reads(name: str) -> tuple[str, ...]:
    """The run-config sections the method reads beyond `prune` (nas: benchmark, export, registry)."""
    method = PRUNE_METHODS.get(name)
    return method.reads if method is not None else ()


def get_pruner(name: str) -> Any:
    """A new pruner of method `name` (imports its module)."""
    return prune_method(name).load_pruner()


# --------------------------------------------------------------------------------------------------
# The shipped methods, then the installed plugins

for _method in (IMPORTANCE, BLOCK_MOVEMENT, NAS, MAGNITUDE, WANDA, SPARSEGPT, STRUCTURED_ONESHOT):
    register_prune_method(_method)

for _entry in entry_points(group=ENTRY_POINT_GROUP):
    _method = _entry.load()
    if not isinstance(_method, PruneMethod) or _method.name != _entry.name:
        raise TypeError(
            f"entry point {_entry.name} = {_entry.value!r} ({ENTRY_POINT_GROUP}) must name a PruneMethod "
            f"called {_entry.name!r}, got {_method!r}"
        )
    register_prune_method(_method)
