"""distill: knowledge distillation from the teacher into the pruned (or a shallower) student."""

from __future__ import annotations

from dataclasses import dataclass

from slimnlp.config.base import _help
from slimnlp.config.training import TrainingSection, _budget_minutes, _mlm_steps, _vocab_transfer


@dataclass(frozen=True)
class DistillConfig(TrainingSection):
    student: str = _help(
        "pruned: distil into the pruned model; layers: a shallower copy of the teacher.",
        "pruned",
        choices=("pruned", "layers"),
    )
    student_layers: int = _help("Layers kept (evenly spaced) when student=layers.", 2, ge=1)
    temperature: float = _help("Softmax temperature of the KD term.", 2.0, gt=0)
    alpha: float = _help("Loss = alpha * KD + (1 - alpha) * CE.", 0.7, ge=0, le=1)
    budget_minutes: float | None = _budget_minutes()
    vocab_transfer: int | None = _vocab_transfer(
        "Fast vocabulary transfer of the student before distillation: an in-domain WordPiece of this "
        "size, embeddings from the old pieces. None = off."
    )
    vocab_transfer_mlm_steps: int = _mlm_steps()
