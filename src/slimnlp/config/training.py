"""The fields every training section shares, declared once.

    @dataclass(frozen=True)
    class DistillConfig(TrainingSection):
        learning_rate: float = _override(TrainingSection, "learning_rate", 3e-4)   # own default, same rule

`OptimizerSection`: batch size, AdamW and the warm-up (pretrain, prune.nas); `TrainingSection` adds
what the one training loop also reads (`training.loop.LoopSettings.from_section`): epochs and the
early-stopping patience (teacher, distill, finetune_amp). A section changes a default with
`_override`; its YAML keys stay the field names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slimnlp.config.base import Section, _help


@dataclass(frozen=True)
class OptimizerSection(Section):
    batch_size: int = _help("Batch size.", 32, ge=1)
    learning_rate: float = _help("Peak learning rate (linear warm-up and decay).", 3e-4, gt=0)
    weight_decay: float = _help("AdamW weight decay (not on biases and LayerNorm).", 0.01, ge=0)
    warmup_ratio: float = _help("Fraction of steps for learning-rate warm-up.", 0.1, ge=0, lt=1)


@dataclass(frozen=True)
class TrainingSection(OptimizerSection):
    epochs: int = _help("Maximum epochs (early stopping on dev may end sooner).", 6, ge=0)
    patience: int = _help("Epochs without dev macro-F1 improvement before stopping.", 3, ge=1)


def _budget_minutes() -> Any:
    """The `budget_minutes` field of the sections whose step estimates its training time."""
    return _help(
        "Fail before the first step when the training time estimated on this machine (printed as the "
        "step starts) exceeds this many minutes; the error says what to reduce. None = no limit.",
        None,
        gt=0,
    )


def _vocab_transfer(text: str) -> Any:
    """The `vocab_transfer` field of the sections that can transfer a vocabulary (teacher, distill)."""
    return _help(text, None, ge=100)


def _mlm_steps() -> Any:
    """The `vocab_transfer_mlm_steps` field beside `vocab_transfer`."""
    return _help("Masked-LM adaptation steps after vocabulary transfer (0 = none).", 0, ge=0)
