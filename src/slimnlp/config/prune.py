"""prune: the fields every pruning method shares, and one nested section per registered method.

    prune:
      method: block_movement          # a registered method (slimnlp.prune.methods)
      target_sparsity: 0.5
      block_movement: {block_size: head, epochs: 2}

`PruneSettings` holds the shared fields; `PruneConfig` adds a field `prune.<name>` of each registered
method's config class (`PruneMethod.config`), built from the method table when this module is
imported, so a method registered once (its folder under `slimnlp/prune/`, one line in
`slimnlp.prune.methods` or an entry point) is a config section, a `--help` line and a choice of
`prune.method` without touching this file.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

from slimnlp.config.base import Section, _help
from slimnlp.prune.descriptor import PruneMethodConfig
from slimnlp.prune.methods import PRUNE_METHODS, prune_methods
from slimnlp.prune.oneshot.config import CalibrationConfig

# --------------------------------------------------------------------------------------------------
# The prune section


def _method_help() -> str:
    return "The pruning method, one of: " + "; ".join(f"{n}: {m.summary}" for n, m in PRUNE_METHODS.items())


# Keys of the flat section before the methods had their own (issue 14): old name -> new path below prune.
_MOVED_KEYS = {"importance_batches": "importance.batches"} | {
    name: f"block_movement.{name}"
    for name in (
        "block_size",
        "epochs",
        "batch_size",
        "learning_rate",
        "score_learning_rate",
        "warmup_fraction",
        "cooldown_fraction",
        "alpha",
        "temperature",
        "patience",
        "fill",
        "refill_epochs",
    )
}


@dataclass(frozen=True)
class PruneSettings(Section):
    """The shared fields; `PruneConfig` below adds one section per method. The sparsity fields take
    [0, 1) here; the chosen method's `check_sparsity` narrows that (most methods: (0, 1))."""

    MOVED_KEYS: ClassVar[dict[str, str]] = _MOVED_KEYS

    method: str = _help(_method_help(), "importance", choices=prune_methods)
    target_sparsity: float = _help(
        "Fraction of attention heads and FFN neurons (block_movement: attention blocks and FFN neurons) "
        "to remove; in (0, 1), and 0 is allowed for block_movement (the same training, no pruning).",
        0.25,
        ge=0,
        lt=1,
    )
    head_sparsity: float | None = _help(
        "Fraction of heads to remove; defaults to target_sparsity.", None, ge=0, lt=1
    )
    ffn_sparsity: float | None = _help(
        "Fraction of FFN neurons to remove; defaults to target_sparsity.", None, ge=0, lt=1
    )
    min_heads_per_layer: int = _help("Never remove the last heads of a layer below this count.", 1, ge=1)
    calibration: CalibrationConfig = _help(
        "Calibration texts of the one-shot pruners (magnitude ignores them).", factory=CalibrationConfig
    )

    def check(self) -> None:
        for name in ("target_sparsity", "head_sparsity", "ffn_sparsity"):
            value = getattr(self, name)
            if value is not None:
                self.section.check_sparsity(name, value)

    @property
    def section(self) -> PruneMethodConfig:
        """The chosen method's own section (`prune.<method>`)."""
        return getattr(self, self.method)

    @property
    def head_fraction(self) -> float:
        """The fraction of heads (block_movement: attention blocks) to remove."""
        return self.head_sparsity if self.head_sparsity is not None else self.target_sparsity

    @property
    def ffn_fraction(self) -> float:
        """The fraction of FFN neurons to remove."""
        return self.ffn_sparsity if self.ffn_sparsity is not None else self.target_sparsity


def _with_method_sections(settings: type) -> type:
    """`settings` plus a field `<name>` of each registered method's config class (its defaults)."""
    sections = [
        (name, method.config, _help(f"method {name}: {method.summary}.", factory=method.config))
        for name, method in PRUNE_METHODS.items()
    ]
    cls = dataclasses.make_dataclass("PruneConfig", sections, bases=(settings,), frozen=True)
    cls.__module__ = __name__
    cls.__doc__ = "The prune section: the shared fields and `prune.<method>` for every registered method."
    return cls


PruneConfig = _with_method_sections(PruneSettings)
