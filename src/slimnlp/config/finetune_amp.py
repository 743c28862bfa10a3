"""finetune-amp: the mixed-precision fine-tune of the student."""

from __future__ import annotations

from dataclasses import dataclass

from slimnlp.config.base import _help, _override
from slimnlp.config.training import TrainingSection, _budget_minutes


@dataclass(frozen=True)
class FinetuneAmpConfig(TrainingSection):
    precision: str = _help(
        "auto (fp16 on CUDA, fp32 on CPU: bf16 autocast measured 1.4-1.5x slower on CPUs without "
        "AMX), fp16, bf16 or fp32.",
        "auto",
        choices=("auto", "fp16", "bf16", "fp32"),
    )
    epochs: int = _override(
        TrainingSection, "epochs", 2, "Maximum epochs (0 skips the step's training and passes the model on)."
    )
    learning_rate: float = _override(TrainingSection, "learning_rate", 1e-4)
    alpha: float = _help("KD weight from the teacher (0 = plain CE).", 0.5, ge=0, le=1)
    temperature: float = _help("KD temperature.", 2.0, gt=0)
    patience: int = _override(TrainingSection, "patience", 2)
    budget_minutes: float | None = _budget_minutes()
