"""prune.block_movement: block movement pruning's section and its record (torch-free).

prune:
  method: block_movement
  target_sparsity: 0.5               # 0 trains without pruning (the grid's dense reference)
  block_movement: {block_size: head, epochs: 6, alpha: 0.9}
"""

from __future__ import annotations

from dataclasses import dataclass

from slimnlp.config.base import _check_training, _help, _require
from slimnlp.prune.descriptor import PruneMethod, PruneMethodConfig


@dataclass(frozen=True)
class BlockMovementConfig(PruneMethodConfig):
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
