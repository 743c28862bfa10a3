"""train-teacher: a pretrained checkpoint fine-tuned, or a BERT built from these fields."""

from __future__ import annotations

from dataclasses import dataclass

from slimnlp.config.base import _help, _override, _require
from slimnlp.config.training import TrainingSection, _budget_minutes, _mlm_steps, _vocab_transfer


@dataclass(frozen=True)
class TeacherConfig(TrainingSection):
    checkpoint: str | None = _help(
        "Hub name, local directory or s3:// URI of a pretrained model; None = build a BERT from the "
        "fields below and train a WordPiece tokenizer on the training text.",
        None,
    )
    vocab_size: int = _help("WordPiece vocabulary size when training a tokenizer.", 8000, ge=1)
    num_layers: int = _help("Layers of a from-config BERT.", 4, ge=1)
    hidden_size: int = _help("Hidden size of a from-config BERT.", 256, ge=1)
    num_heads: int = _help("Attention heads of a from-config BERT.", 4, ge=1)
    intermediate_size: int = _help("FFN size of a from-config BERT.", 1024, ge=1)
    max_length: int = _help("Maximum tokens per text.", 64, ge=1)
    epochs: int = _override(TrainingSection, "epochs", 8, ge=1)
    learning_rate: float = _override(TrainingSection, "learning_rate", 5e-4)
    budget_minutes: float | None = _budget_minutes()
    dropout: float = _help("Hidden and attention dropout of a from-config BERT.", 0.1, ge=0, lt=1)
    vocab_transfer: int | None = _vocab_transfer(
        "Fast vocabulary transfer: train an in-domain WordPiece of this size on the training text and "
        "initialise its embeddings from the model's (copy, or mean of the old pieces). None = off."
    )
    vocab_transfer_mlm_steps: int = _mlm_steps()

    def check(self) -> None:
        _require(
            self.hidden_size % self.num_heads == 0,
            "hidden_size",
            f"({self.hidden_size}) must be divisible by num_heads ({self.num_heads})",
        )
