"""What a pruning method is, in one record: its name, its config section, where its code is, and
every trait the steps around it read. Torch-free.

    METHOD = PruneMethod(
        name="importance",
        config=ImportanceConfig,                               # the `prune.importance` section
        pruner="slimnlp.prune.importance.pruner:ImportancePruner",  # imported when the step runs
        summary="first-order Taylor importance of heads and FFN neurons ...",
    )

A method's folder (`slimnlp/prune/<method>/`) holds `config.py` (its config class and this record)
and its pruner; `slimnlp.prune.methods` registers the record. Nothing else names the method: the
prune step, the grid, the resume keys and `--help` read these fields.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from slimnlp.config.base import Section, _require


class PruneMethodConfig(Section):
    """What every method's config section has beside its own fields: a `Section` (each field's
    constraint declared with it, rules across fields in `check`) and the check of the shared sparsity
    fields (`prune.target_sparsity`, `head_sparsity`, `ffn_sparsity`) for this method."""

    def check_sparsity(self, name: str, value: float) -> None:
        """Most methods remove something: a sparsity must be in (0, 1)."""
        _require(0 < value < 1, name, f"must be in (0, 1), got {value}")


@dataclass(frozen=True)
class PruneMethod:
    """One pruning method: the one place that says what it is and how the steps treat it.

    Attributes:
        name: The `prune.method` value, and the key of its section (`prune.<name>`).
        config: Its config section class (a frozen dataclass, a `PruneMethodConfig`).
        pruner: "module:Class" of its `Pruner`, imported only when it runs (so the config, the CLI
            and KFP compile stay torch-free).
        summary: One line for `--help` and the `prune.method` help.
        trains: Runs the one training loop: the prune step builds `context.loop` from its section.
        calibrates: Reads `prune.calibration`: the grid's calibration axis applies to it.
        keeps_zeros: Zeroes weights inside dense matrices (unstructured, N:M): distill and
            finetune-amp keep those weights at zero.
        uses_target_sparsity: Its size comes from `prune.target_sparsity` (False for nas: a budget
            selects a front point), so the grid runs it once per sparsity, not once in all.
        reads: Run-config sections it reads beyond `prune` (nas: benchmark, export, registry): the
            prune step's resume and cache keys hash them.
    """

    name: str
    config: type
    pruner: str
    summary: str
    trains: bool = False
    calibrates: bool = False
    keeps_zeros: bool = False
    uses_target_sparsity: bool = True
    reads: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        module, _, cls = self.pruner.partition(":")
        if not module or not cls:
            raise ValueError(
                f"prune method {self.name!r}: pruner must be 'module:Class', got {self.pruner!r}"
            )
        if not issubclass(self.config, PruneMethodConfig):
            raise TypeError(f"prune method {self.name!r}: config {self.config} is not a PruneMethodConfig")

    def load_pruner(self) -> Any:
        """A new instance of the method's pruner (imports its module: torch and friends)."""
        module, _, cls = self.pruner.partition(":")
        return getattr(importlib.import_module(module), cls)()
