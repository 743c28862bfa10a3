"""prune: the fields every pruning method shares, and one nested section per method.

    prune:
      method: block_movement          # a name registered below with @prune_method
      target_sparsity: 0.5
      block_movement: {block_size: head, epochs: 2}

A method is registered here, torch-free, by its config class (`@prune_method("name")`), so that
`prune.method` is validated and `--help` lists the methods without importing torch; its code is a
`Pruner` registered under the same name in `slimnlp.prune` (a contract test checks both lists agree).
Adding a method: a config class here, a field of that class on `PruneConfig`, its folder under
`slimnlp/prune/`, a row in the README's method table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from slimnlp.config.base import _check_training, _help, _require
from slimnlp.config.nas import NasConfig
from slimnlp.config.oneshot import (
    CalibrationConfig,
    MagnitudeConfig,
    SparseGPTConfig,
    StructuredOneShotConfig,
    WandaConfig,
)
from slimnlp.config.prune_registry import PRUNE_METHODS, PruneMethodConfig, prune_method, prune_methods

# --------------------------------------------------------------------------------------------------
# The methods


@prune_method("importance")
@dataclass(frozen=True)
class ImportanceConfig(PruneMethodConfig):
    SUMMARY: ClassVar[str] = (
        "first-order Taylor importance of heads and FFN neurons over a few training batches, one shot, "
        "then physical removal"
    )

    batches: int = _help("Training batches used to estimate importance.", 16)
    batch_size: int = _help("Texts per importance batch.", 32)

    def __post_init__(self) -> None:
        _require(self.batches >= 1, "batches", f"must be >= 1, got {self.batches}")
        _require(self.batch_size >= 1, "batch_size", f"must be >= 1, got {self.batch_size}")


@prune_method("block_movement")
@dataclass(frozen=True)
class BlockMovementConfig(PruneMethodConfig):
    SUMMARY: ClassVar[str] = (
        "learnable block/neuron scores trained with top-k masks, a cubic schedule and KD (Lagunas et al. "
        "2021), then physical removal of empty heads and masked neurons"
    )

    block_size: str = _help(
        "Attention block shape: 'head' (one score per head shared by its Q/K/V rows and O columns) or an "
        "integer n for n x n blocks of each of Q/K/V/O (e.g. 32).",
        "head",
    )
    epochs: int = _help("Training epochs (the schedule spans all of them).", 6)
    batch_size: int = _help("Batch size.", 32)
    learning_rate: float = _help("Peak learning rate of the weights (linear warm-up and decay).", 3e-4)
    weight_decay: float = _help("AdamW weight decay of the weights (never on the scores).", 0.01)
    warmup_ratio: float = _help("Fraction of steps for learning-rate warm-up.", 0.1)
    score_learning_rate: float = _help("Learning rate of the mask scores.", 1e-2)
    warmup_fraction: float = _help(
        "Fraction of the steps trained dense before the kept fraction starts to fall.", 0.1
    )
    cooldown_fraction: float = _help("Fraction of the steps trained at the target density at the end.", 0.3)
    alpha: float = _help("Loss = alpha * KD(teacher) + (1 - alpha) * CE; 0 = no KD.", 0.9)
    temperature: float = _help("KD temperature.", 2.0)
    patience: int = _help("Early-stopping patience (epochs at the target density).", 3)
    fill: str = _help(
        "What happens to masked blocks inside kept heads: 'zero' keeps them zero; 'hybrid-filled' "
        "restores their weights and re-distils the dense pruned model.",
        "zero",
    )
    refill_epochs: int = _help("With fill=hybrid-filled: re-distillation epochs.", 2)

    def check_sparsity(self, name: str, value: float) -> None:
        """0 is allowed: the same training with nothing pruned (the grid's dense reference)."""
        _require(0 <= value < 1, name, f"must be in [0, 1) for block_movement, got {value}")

    def __post_init__(self) -> None:
        _require(
            self.block_size == "head" or (self.block_size.isdigit() and int(self.block_size) >= 1),
            "block_size",
            f"must be 'head' or a positive integer such as 32, got {self.block_size!r}",
        )
        _require(
            self.score_learning_rate > 0,
            "score_learning_rate",
            f"must be > 0, got {self.score_learning_rate}",
        )
        for name in ("warmup_fraction", "cooldown_fraction"):
            value = getattr(self, name)
            _require(0 <= value < 1, name, f"must be in [0, 1), got {value}")
        _require(
            self.warmup_fraction + self.cooldown_fraction < 1,
            "cooldown_fraction",
            f"plus warmup_fraction must be < 1 (the schedule needs steps to fall), got "
            f"{self.warmup_fraction} + {self.cooldown_fraction}",
        )
        _require(0 <= self.alpha <= 1, "alpha", f"must be in [0, 1], got {self.alpha}")
        _require(self.temperature > 0, "temperature", f"must be > 0, got {self.temperature}")
        fills = ("zero", "hybrid-filled")
        _require(self.fill in fills, "fill", f"must be one of {fills}, got {self.fill!r}")
        _require(self.refill_epochs >= 0, "refill_epochs", f"must be >= 0, got {self.refill_epochs}")
        _check_training(self)


# --------------------------------------------------------------------------------------------------
# The prune section


def _method_help() -> str:
    return "The pruning method, one of: " + "; ".join(f"{n}: {c.SUMMARY}" for n, c in PRUNE_METHODS.items())


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
class PruneConfig:
    MOVED_KEYS: ClassVar[dict[str, str]] = _MOVED_KEYS

    method: str = _help(_method_help(), "importance")
    target_sparsity: float = _help(
        "Fraction of attention heads and FFN neurons (block_movement: attention blocks and FFN neurons) "
        "to remove; in (0, 1), and 0 is allowed for block_movement (the same training, no pruning).",
        0.25,
    )
    head_sparsity: float | None = _help("Fraction of heads to remove; defaults to target_sparsity.", None)
    ffn_sparsity: float | None = _help(
        "Fraction of FFN neurons to remove; defaults to target_sparsity.", None
    )
    min_heads_per_layer: int = _help("Never remove the last heads of a layer below this count.", 1)
    importance: ImportanceConfig = _help(
        f"method importance: {ImportanceConfig.SUMMARY}.", factory=ImportanceConfig
    )
    block_movement: BlockMovementConfig = _help(
        f"method block_movement: {BlockMovementConfig.SUMMARY}.", factory=BlockMovementConfig
    )
    magnitude: MagnitudeConfig = _help(
        f"method magnitude: {MagnitudeConfig.SUMMARY}.", factory=MagnitudeConfig
    )
    wanda: WandaConfig = _help(f"method wanda: {WandaConfig.SUMMARY}.", factory=WandaConfig)
    sparsegpt: SparseGPTConfig = _help(
        f"method sparsegpt: {SparseGPTConfig.SUMMARY}.", factory=SparseGPTConfig
    )
    structured_oneshot: StructuredOneShotConfig = _help(
        f"method structured_oneshot: {StructuredOneShotConfig.SUMMARY}.", factory=StructuredOneShotConfig
    )
    nas: NasConfig = _help(f"method nas: {NasConfig.SUMMARY}.", factory=NasConfig)
    calibration: CalibrationConfig = _help(
        "Calibration texts of the one-shot pruners (magnitude ignores them).", factory=CalibrationConfig
    )

    def __post_init__(self) -> None:
        methods = prune_methods()
        _require(self.method in methods, "method", f"must be one of {methods}, got {self.method!r}")
        for name in ("target_sparsity", "head_sparsity", "ffn_sparsity"):
            value = getattr(self, name)
            if value is not None:
                self.section.check_sparsity(name, value)
        _require(self.min_heads_per_layer >= 1, "min_heads_per_layer", "must be >= 1")

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
