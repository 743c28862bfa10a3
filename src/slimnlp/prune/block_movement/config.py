"""prune.block_movement: block movement pruning's section and its record (torch-free).

prune:
  method: block_movement
  target_sparsity: 0.5               # 0 trains without pruning (the grid's dense reference)
  block_movement: {block_size: head, epochs: 6, alpha: 0.9}
"""

from __future__ import annotations

from dataclasses import dataclass

from slimnlp.config.base import _help, _override, _require
from slimnlp.config.training import TrainingSection
from slimnlp.prune.descriptor import PruneMethod, PruneMethodConfig


@dataclass(frozen=True)
class BlockMovementConfig(PruneMethodConfig, TrainingSection):
    """The shared training fields (epochs, batch_size, learning_rate, weight_decay, warmup_ratio,
    patience: `TrainingSection`) plus the mask scores' schedule and the KD loss."""

    block_size: str = _help(
        "Attention block shape: 'head' (one score per head shared by its Q/K/V rows and O columns) or an "
        "integer n for n x n blocks of each of Q/K/V/O (e.g. 32).",
        "head",
        pattern=r"head|[1-9][0-9]*",
        means="'head' or a positive integer such as 32",
    )
    epochs: int = _override(TrainingSection, "epochs", 6, "Training epochs (the schedule spans all of them).")
    learning_rate: float = _override(
        TrainingSection,
        "learning_rate",
        3e-4,
        "Peak learning rate of the weights (linear warm-up and decay).",
    )
    weight_decay: float = _override(
        TrainingSection, "weight_decay", 0.01, "AdamW weight decay of the weights (never on the scores)."
    )
    patience: int = _override(
        TrainingSection, "patience", 3, "Early-stopping patience (epochs at the target density)."
    )
    score_learning_rate: float = _help("Learning rate of the mask scores.", 1e-2, gt=0)
    warmup_fraction: float = _help(
        "Fraction of the steps trained dense before the kept fraction starts to fall.", 0.1, ge=0, lt=1
    )
    cooldown_fraction: float = _help(
        "Fraction of the steps trained at the target density at the end.", 0.3, ge=0, lt=1
    )
    alpha: float = _help("Loss = alpha * KD(teacher) + (1 - alpha) * CE; 0 = no KD.", 0.9, ge=0, le=1)
    temperature: float = _help("KD temperature.", 2.0, gt=0)
    fill: str = _help(
        "What happens to masked blocks inside kept heads: 'zero' keeps them zero; 'hybrid-filled' "
        "restores their weights and re-distils the dense pruned model.",
        "zero",
        choices=("zero", "hybrid-filled"),
    )
    refill_epochs: int = _help("With fill=hybrid-filled: re-distillation epochs.", 2, ge=0)

    def check_sparsity(self, name: str, value: float) -> None:
        """0 is allowed: the same training with nothing pruned (the grid's dense reference)."""
        _require(0 <= value < 1, name, f"must be in [0, 1) for block_movement, got {value}")

    def check(self) -> None:
        _require(
            self.warmup_fraction + self.cooldown_fraction < 1,
            "cooldown_fraction",
            f"plus warmup_fraction must be < 1 (the schedule needs steps to fall), got "
            f"{self.warmup_fraction} + {self.cooldown_fraction}",
        )


METHOD = PruneMethod(
    name="block_movement",
    config=BlockMovementConfig,
    pruner="slimnlp.prune.block_movement.pruner:BlockMovementPruner",
    summary=(
        "learnable block/neuron scores trained with top-k masks, a cubic schedule and KD (Lagunas et al. "
        "2021), then physical removal of empty heads and masked neurons"
    ),
    trains=True,  # the prune step builds context.loop from prune.block_movement
)
