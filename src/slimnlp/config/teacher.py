"""train-teacher: a pretrained checkpoint fine-tuned, or a BERT built from these fields."""

from __future__ import annotations

from dataclasses import dataclass

from slimnlp.config.base import (
    _budget_minutes,
    _check_budget,
    _check_vocab_transfer,
    _help,
    _mlm_steps,
    _require,
)


@dataclass(frozen=True)
class TeacherConfig:
    checkpoint: str | None = _help(
        "Hub name, local directory or s3:// URI of a pretrained model; None = build a BERT from the "
        "fields below and train a WordPiece tokenizer on the training text.",
        None,
    )
    vocab_size: int = _help("WordPiece vocabulary size when training a tokenizer.", 8000)
    num_layers: int = _help("Layers of a from-config BERT.", 4)
    hidden_size: int = _help("Hidden size of a from-config BERT.", 256)
    num_heads: int = _help("Attention heads of a from-config BERT.", 4)
    intermediate_size: int = _help("FFN size of a from-config BERT.", 1024)
    max_length: int = _help("Maximum tokens per text.", 64)
    epochs: int = _help("Maximum epochs (early stopping on dev may end sooner).", 8)
    batch_size: int = _help("Training batch size.", 32)
    learning_rate: float = _help("Peak learning rate (linear warm-up and decay).", 5e-4)
    weight_decay: float = _help("AdamW weight decay.", 0.01)
    warmup_ratio: float = _help("Fraction of steps for learning-rate warm-up.", 0.1)
    patience: int = _help("Epochs without dev macro-F1 improvement before stopping.", 3)
    budget_minutes: float | None = _budget_minutes()
    dropout: float = _help("Hidden and attention dropout of a from-config BERT.", 0.1)
    vocab_transfer: int | None = _help(
        "Fast vocabulary transfer: train an in-domain WordPiece of this size on the training text and "
        "initialise its embeddings from the model's (copy, or mean of the old pieces). None = off.",
        None,
    )
    vocab_transfer_mlm_steps: int = _mlm_steps()

    def __post_init__(self) -> None:
        _check_vocab_transfer(self)
        _check_budget(self)
        _require(
            self.hidden_size % self.num_heads == 0,
            "hidden_size",
            f"({self.hidden_size}) must be divisible by num_heads ({self.num_heads})",
        )
        for name in (
            "vocab_size",
            "num_layers",
            "num_heads",
            "intermediate_size",
            "max_length",
            "epochs",
            "batch_size",
            "patience",
        ):
            _require(getattr(self, name) >= 1, name, f"must be >= 1, got {getattr(self, name)}")
        _require(self.learning_rate > 0, "learning_rate", f"must be > 0, got {self.learning_rate}")
        _require(0 <= self.warmup_ratio < 1, "warmup_ratio", f"must be in [0, 1), got {self.warmup_ratio}")
