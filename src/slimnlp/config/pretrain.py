"""pretrain-mlm (optional): in-domain masked-LM pretraining of a small BERT."""

from __future__ import annotations

from dataclasses import dataclass

from slimnlp.config.base import _help, _override, _require
from slimnlp.config.training import OptimizerSection


@dataclass(frozen=True)
class PretrainConfig(OptimizerSection):
    enabled: bool = _help(
        "Run the pretrain-mlm step before train-teacher and start the teacher from its output "
        "(in-domain masked-LM pretraining when no pretrained checkpoint is reachable).",
        False,
    )
    corpus: list[str] = _help(
        "Unlabelled text: .txt files (one sentence per line), .csv files (text_column), directories "
        "of them, or s3:// URIs. [] = the task's training text only.",
        factory=list,
    )
    text_column: str = _help("Column holding the text in CSV corpus files.", "text")
    include_task_text: bool = _help("Also train the tokenizer and the MLM on the task's training text.", True)
    vocab_size: int = _help(
        "WordPiece vocabulary size of the tokenizer trained on the corpus.", 16000, ge=100
    )
    num_layers: int = _help("Layers of the BERT.", 4, ge=1)
    hidden_size: int = _help("Hidden size of the BERT.", 256, ge=1)
    num_heads: int = _help("Attention heads of the BERT.", 4, ge=1)
    intermediate_size: int = _help("FFN size of the BERT.", 1024, ge=1)
    max_length: int = _help("Maximum tokens per sentence during pretraining.", 64, ge=8)
    dropout: float = _help(
        "Hidden and attention dropout while pretraining. 0 suits a short budget on a small corpus "
        "that the model underfits (faster steps, lower perplexity per minute).",
        0.1,
        ge=0,
        lt=1,
    )
    finetune_dropout: float = _help(
        "Hidden and attention dropout written into the saved model's config: what train-teacher "
        "fine-tunes with (fine-tuning on a few thousand texts needs it even when pretraining did not).",
        0.1,
        ge=0,
        lt=1,
    )
    mlm_probability: float = _help(
        "Fraction of tokens masked (of which 80% [MASK], 10% random, 10% kept).", 0.15, gt=0, lt=1
    )
    batch_size: int = _override(
        OptimizerSection,
        "batch_size",
        64,
        "Sequences per batch (sentences, or packs of them with pack_sentences).",
    )
    pack_sentences: bool = _help(
        "Pack consecutive training sentences into sequences of up to max_length tokens "
        "([CLS] a [SEP] b [SEP] ...): no padding and fewer, longer sequences, so more tokens per second "
        "on short-sentence corpora. Held-out perplexity is still measured on single sentences.",
        False,
    )
    learning_rate: float = _override(
        OptimizerSection,
        "learning_rate",
        5e-4,
        "Peak learning rate (linear warm-up, then linear decay to 0).",
    )
    weight_decay: float = _override(OptimizerSection, "weight_decay", 0.01, "AdamW weight decay.")
    warmup_ratio: float = _override(
        OptimizerSection, "warmup_ratio", 0.06, "Fraction of the budget spent warming up the learning rate."
    )
    max_steps: int = _help("Step budget; the learning rate decays to 0 at this step.", 20000, ge=1)
    max_minutes: float | None = _help(
        "Wall-time budget in minutes (summed over resumptions); the schedule decays over whichever "
        "budget runs out first. None = steps only.",
        None,
        gt=0,
    )
    eval_sentences: int = _help("Sentences held out for perplexity (never trained on).", 1000, ge=0)
    eval_every: int = _help("Steps between held-out perplexity evaluations.", 500, ge=1)
    log_every: int = _help("Steps between training-loss logs.", 50, ge=1)
    checkpoint_every: int = _help(
        "Steps between checkpoints (model, optimizer, scheduler, RNG, step).", 500, ge=1
    )
    precision: str = _help(
        "auto (fp16 AMP on CUDA, fp32 on CPU), fp16 or fp32.", "auto", choices=("auto", "fp16", "fp32")
    )
    cache_dir: str | None = _help(
        "Where finished pretraining runs and their checkpoints are kept, keyed by a hash of the corpus, "
        "the task text and this section: a rerun with the same inputs reuses the result, an interrupted "
        "one resumes. None = <output_dir>/pretrain-cache.",
        None,
    )

    def check(self) -> None:
        _require(
            self.hidden_size % self.num_heads == 0,
            "hidden_size",
            f"({self.hidden_size}) must be divisible by num_heads ({self.num_heads})",
        )
