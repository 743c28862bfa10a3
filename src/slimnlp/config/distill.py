"""distill: knowledge distillation from the teacher into the pruned (or a shallower) student."""

from __future__ import annotations

from dataclasses import dataclass

from slimnlp.config.base import (
    _budget_minutes,
    _check_training,
    _check_vocab_transfer,
    _help,
    _mlm_steps,
    _require,
)


@dataclass(frozen=True)
class DistillConfig:
    student: str = _help(
        "pruned: distil into the pruned model; layers: a shallower copy of the teacher.", "pruned"
    )
    student_layers: int = _help("Layers kept (evenly spaced) when student=layers.", 2)
    temperature: float = _help("Softmax temperature of the KD term.", 2.0)
    alpha: float = _help("Loss = alpha * KD + (1 - alpha) * CE.", 0.7)
    epochs: int = _help("Maximum epochs.", 6)
    batch_size: int = _help("Batch size.", 32)
    learning_rate: float = _help("Peak learning rate (linear warm-up and decay).", 3e-4)
    weight_decay: float = _help("AdamW weight decay (not on biases and LayerNorm).", 0.01)
    warmup_ratio: float = _help("Fraction of steps for learning-rate warm-up.", 0.1)
    patience: int = _help("Early-stopping patience in epochs.", 3)
    budget_minutes: float | None = _budget_minutes()
    vocab_transfer: int | None = _help(
        "Fast vocabulary transfer of the student before distillation: an in-domain WordPiece of this "
        "size, embeddings from the old pieces. None = off.",
        None,
    )
    vocab_transfer_mlm_steps: int = _mlm_steps()

    def __post_init__(self) -> None:
        _check_vocab_transfer(self)
        _require(
            self.student in ("pruned", "layers"),
            "student",
            f"must be 'pruned' or 'layers', got {self.student!r}",
        )
        _require(self.temperature > 0, "temperature", f"must be > 0, got {self.temperature}")
        _require(0 <= self.alpha <= 1, "alpha", f"must be in [0, 1], got {self.alpha}")
        _require(self.student_layers >= 1, "student_layers", "must be >= 1")
        _check_training(self)
