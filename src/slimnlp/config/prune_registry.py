"""The registry of pruning methods' config sections (torch-free), shared by every method module.

A method registers its section class with `@prune_method("name")`; `slimnlp.config.prune` gathers the
sections onto `PruneConfig`. Method sections live in `prune.py` (importance, block_movement),
`oneshot.py` (calibrated one-shot pruners) and `nas.py` (structural pruning by NAS).
"""

from __future__ import annotations

from typing import ClassVar

from slimnlp.config.base import _require

PRUNE_METHODS: dict[str, type[PruneMethodConfig]] = {}


def prune_method(name: str):
    """Class decorator: register a method's config section under `name` (its `prune.<name>` key)."""

    def register(cls: type[PruneMethodConfig]) -> type[PruneMethodConfig]:
        if name in PRUNE_METHODS:
            raise ValueError(f"prune method {name!r} is registered twice ({PRUNE_METHODS[name]}, {cls})")
        PRUNE_METHODS[name] = cls
        return cls

    return register


def method_reads(name: str) -> tuple[str, ...]:
    """The run-config sections the method reads beyond `prune` (nas: benchmark, export, registry)."""
    cls = PRUNE_METHODS.get(name)
    return tuple(cls.READS) if cls is not None else ()


def prune_methods() -> tuple[str, ...]:
    """The registered method names, in registration order."""
    return tuple(PRUNE_METHODS)


class PruneMethodConfig:
    """What every method section has beside its own fields: a one-line summary and the hook that
    checks the shared sparsity fields for this method."""

    SUMMARY: ClassVar[str] = ""
    # True for methods that zero weights inside dense matrices (unstructured, N:M): the training
    # steps after prune (distill, finetune-amp) then keep those weights at zero.
    KEEPS_ZEROS: ClassVar[bool] = False
    # False for methods that choose their own size (nas: a budget selects a front point).
    USES_TARGET_SPARSITY: ClassVar[bool] = True
    # Run-config sections the method reads beyond `prune` (the prune step's resume and cache keys).
    READS: ClassVar[tuple[str, ...]] = ()

    def check_sparsity(self, name: str, value: float) -> None:
        """Most methods remove something: a sparsity must be in (0, 1)."""
        _require(0 < value < 1, name, f"must be in (0, 1), got {value}")
