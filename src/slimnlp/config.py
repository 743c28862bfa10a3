"""One run config, one dataclass per step.

    cfg = load_config("configs/mahanews-shc.yaml", overrides=["data.dir=../shared/data/mahanews-shc"])

The same object drives the CLI, the local pipeline run and the KFP pipeline parameters (it travels
as JSON). Unknown keys and bad values fail here, at load time, with the key's full path.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class ConfigError(ValueError):
    """A config key is unknown or its value is invalid; the message names the key's path."""


def _require(ok: bool, key: str, message: str) -> None:
    if not ok:
        raise ConfigError(f"{key} {message}")


def _help(text: str, default: Any = dataclasses.MISSING, factory: Any = dataclasses.MISSING) -> Any:
    if factory is not dataclasses.MISSING:
        return field(default_factory=factory, metadata={"help": text})
    return field(default=default, metadata={"help": text})


def _check_training(section: Any) -> None:
    """The loop settings every training section shares."""
    _require(section.epochs >= 0, "epochs", f"must be >= 0, got {section.epochs}")
    for name in ("batch_size", "patience"):
        _require(getattr(section, name) >= 1, name, f"must be >= 1, got {getattr(section, name)}")
    _require(section.learning_rate > 0, "learning_rate", f"must be > 0, got {section.learning_rate}")


# --------------------------------------------------------------------------------------------------
# Step configs


@dataclass(frozen=True)
class DataConfig:
    dir: str | None = _help(
        "Directory holding the data files; relative file names below resolve against it. "
        "Env var SLIMNLP_DATA_DIR overrides it. None with no files = the shipped Marathi sample.",
        None,
    )
    train_file: str | None = _help("Training file (path, s3://, http(s):// or hf://dataset).", None)
    dev_file: str | None = _help("Dev file; split off train (stratified) when absent.", None)
    test_file: str | None = _help("Test file; split off train (stratified) when absent.", None)
    text_column: str = _help("Column holding the text.", "text")
    label_column: str = _help("Column holding the label.", "label")
    file_format: str = _help("auto, csv, tsv, jsonl or parquet.", "auto")
    dev_fraction: float = _help("Fraction of train held out as dev when no dev file is given.", 0.1)
    test_fraction: float = _help("Fraction held out as test when no test file is given.", 0.2)
    drop_test_overlap: bool = _help("Drop train/dev rows whose text is also in test.", True)
    drop_duplicates: bool = _help(
        "Drop repeated rows (same text and label) in every file. False keeps the files as published, "
        "repeats included, so test figures compare with reports scored on the published test file; "
        "every model step and the benchmark then also report test figures over distinct texts.",
        True,
    )
    drop_labels: list[str] = _help(
        "Labels whose rows are removed from every split (e.g. a class that is all duplicates).", factory=list
    )
    repair_mojibake: bool = _help(
        "Repair Devanagari decoded as cp866 when the repair round-trips (such rows are dropped when it "
        "does not, or when this is false).",
        True,
    )
    max_train_rows: int | None = _help("Keep at most this many training rows (stratified).", None)
    max_dev_rows: int | None = _help("Keep at most this many dev rows (stratified).", None)
    max_test_rows: int | None = _help("Keep at most this many test rows (stratified).", None)
    min_examples_per_label: int = _help("A label with fewer training examples is an error.", 2)
    seed: int = _help("Seed for splits and subsets.", 13)

    def __post_init__(self) -> None:
        _require(0 < self.dev_fraction < 0.5, "dev_fraction", f"must be in (0, 0.5), got {self.dev_fraction}")
        _require(
            0 < self.test_fraction < 0.5, "test_fraction", f"must be in (0, 0.5), got {self.test_fraction}"
        )
        fmts = ("auto", "csv", "tsv", "jsonl", "parquet")
        _require(self.file_format in fmts, "file_format", f"must be one of {fmts}, got {self.file_format!r}")
        _require(self.min_examples_per_label >= 1, "min_examples_per_label", "must be >= 1")
        for name in ("max_train_rows", "max_dev_rows", "max_test_rows"):
            value = getattr(self, name)
            _require(value is None or value > 0, name, f"must be a positive integer or null, got {value}")


@dataclass(frozen=True)
class PretrainConfig:
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
    vocab_size: int = _help("WordPiece vocabulary size of the tokenizer trained on the corpus.", 16000)
    num_layers: int = _help("Layers of the BERT.", 4)
    hidden_size: int = _help("Hidden size of the BERT.", 256)
    num_heads: int = _help("Attention heads of the BERT.", 4)
    intermediate_size: int = _help("FFN size of the BERT.", 1024)
    max_length: int = _help("Maximum tokens per sentence during pretraining.", 64)
    dropout: float = _help(
        "Hidden and attention dropout while pretraining. 0 suits a short budget on a small corpus "
        "that the model underfits (faster steps, lower perplexity per minute).",
        0.1,
    )
    finetune_dropout: float = _help(
        "Hidden and attention dropout written into the saved model's config: what train-teacher "
        "fine-tunes with (fine-tuning on a few thousand texts needs it even when pretraining did not).",
        0.1,
    )
    mlm_probability: float = _help(
        "Fraction of tokens masked (of which 80% [MASK], 10% random, 10% kept).", 0.15
    )
    batch_size: int = _help("Sequences per batch (sentences, or packs of them with pack_sentences).", 64)
    pack_sentences: bool = _help(
        "Pack consecutive training sentences into sequences of up to max_length tokens "
        "([CLS] a [SEP] b [SEP] ...): no padding and fewer, longer sequences, so more tokens per second "
        "on short-sentence corpora. Held-out perplexity is still measured on single sentences.",
        False,
    )
    learning_rate: float = _help("Peak learning rate (linear warm-up, then linear decay to 0).", 5e-4)
    weight_decay: float = _help("AdamW weight decay.", 0.01)
    warmup_ratio: float = _help("Fraction of the budget spent warming up the learning rate.", 0.06)
    max_steps: int = _help("Step budget; the learning rate decays to 0 at this step.", 20000)
    max_minutes: float | None = _help(
        "Wall-time budget in minutes (summed over resumptions); the schedule decays over whichever "
        "budget runs out first. None = steps only.",
        None,
    )
    eval_sentences: int = _help("Sentences held out for perplexity (never trained on).", 1000)
    eval_every: int = _help("Steps between held-out perplexity evaluations.", 500)
    log_every: int = _help("Steps between training-loss logs.", 50)
    checkpoint_every: int = _help("Steps between checkpoints (model, optimizer, scheduler, RNG, step).", 500)
    precision: str = _help("auto (fp16 AMP on CUDA, fp32 on CPU), fp16 or fp32.", "auto")
    cache_dir: str | None = _help(
        "Where finished pretraining runs and their checkpoints are kept, keyed by a hash of the corpus, "
        "the task text and this section: a rerun with the same inputs reuses the result, an interrupted "
        "one resumes. None = <output_dir>/pretrain-cache.",
        None,
    )

    def __post_init__(self) -> None:
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
            "batch_size",
            "max_steps",
            "eval_every",
            "log_every",
            "checkpoint_every",
        ):
            _require(getattr(self, name) >= 1, name, f"must be >= 1, got {getattr(self, name)}")
        _require(self.vocab_size >= 100, "vocab_size", f"must be >= 100, got {self.vocab_size}")
        _require(self.max_length >= 8, "max_length", f"must be >= 8, got {self.max_length}")
        _require(
            0 < self.mlm_probability < 1, "mlm_probability", f"must be in (0, 1), got {self.mlm_probability}"
        )
        _require(self.learning_rate > 0, "learning_rate", f"must be > 0, got {self.learning_rate}")
        _require(0 <= self.warmup_ratio < 1, "warmup_ratio", f"must be in [0, 1), got {self.warmup_ratio}")
        _require(
            self.max_minutes is None or self.max_minutes > 0,
            "max_minutes",
            f"must be > 0 or null, got {self.max_minutes}",
        )
        for name in ("dropout", "finetune_dropout"):
            value = getattr(self, name)
            _require(0 <= value < 1, name, f"must be in [0, 1), got {value}")
        _require(self.eval_sentences >= 0, "eval_sentences", f"must be >= 0, got {self.eval_sentences}")
        opts = ("auto", "fp16", "fp32")
        _require(self.precision in opts, "precision", f"must be one of {opts}, got {self.precision!r}")


def _check_vocab_transfer(section: Any) -> None:
    """Fast vocabulary transfer settings shared by the teacher and distill sections."""
    size = section.vocab_transfer
    _require(size is None or size >= 100, "vocab_transfer", f"must be >= 100 or null, got {size}")
    _require(
        section.vocab_transfer_mlm_steps >= 0,
        "vocab_transfer_mlm_steps",
        f"must be >= 0, got {section.vocab_transfer_mlm_steps}",
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
    dropout: float = _help("Hidden and attention dropout of a from-config BERT.", 0.1)
    vocab_transfer: int | None = _help(
        "Fast vocabulary transfer: train an in-domain WordPiece of this size on the training text and "
        "initialise its embeddings from the model's (copy, or mean of the old pieces). None = off.",
        None,
    )
    vocab_transfer_mlm_steps: int = _help(
        "Masked-LM adaptation steps after vocabulary transfer (0 = none).", 0
    )

    def __post_init__(self) -> None:
        _check_vocab_transfer(self)
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


@dataclass(frozen=True)
class PruneConfig:
    method: str = _help(
        "importance: first-order Taylor importance of heads and FFN neurons, one shot; block_movement: "
        "learnable block/neuron scores trained with top-k masks, a cubic schedule and KD (Lagunas et al. "
        "2021), then physical removal of empty heads and masked neurons.",
        "importance",
    )
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
    importance_batches: int = _help("Training batches used to estimate importance.", 16)
    # block_movement only
    block_size: str = _help(
        "block_movement: attention block shape, 'head' (one score per head shared by its Q/K/V rows and "
        "O columns) or an integer n for n x n blocks of each of Q/K/V/O (e.g. 32).",
        "head",
    )
    epochs: int = _help("block_movement: training epochs (the schedule spans all of them).", 6)
    batch_size: int = _help("block_movement: batch size.", 32)
    learning_rate: float = _help("block_movement: peak learning rate of the weights.", 3e-4)
    score_learning_rate: float = _help("block_movement: learning rate of the mask scores.", 1e-2)
    warmup_fraction: float = _help(
        "block_movement: fraction of the steps trained dense before the kept fraction starts to fall.", 0.1
    )
    cooldown_fraction: float = _help(
        "block_movement: fraction of the steps trained at the target density at the end.", 0.3
    )
    alpha: float = _help("block_movement: loss = alpha * KD(teacher) + (1 - alpha) * CE; 0 = no KD.", 0.9)
    temperature: float = _help("block_movement: KD temperature.", 2.0)
    patience: int = _help("block_movement: early-stopping patience (epochs at the target density).", 3)
    fill: str = _help(
        "block_movement: what happens to masked blocks inside kept heads: 'zero' keeps them zero; "
        "'hybrid-filled' restores their weights and re-distils the dense pruned model.",
        "zero",
    )
    refill_epochs: int = _help("block_movement with fill=hybrid-filled: re-distillation epochs.", 2)

    def __post_init__(self) -> None:
        methods = ("importance", "block_movement")
        _require(self.method in methods, "method", f"must be one of {methods}, got {self.method!r}")
        low_ok = self.method == "block_movement"
        for name in ("target_sparsity", "head_sparsity", "ffn_sparsity"):
            value = getattr(self, name)
            if value is not None:
                if low_ok:
                    _require(0 <= value < 1, name, f"must be in [0, 1) for block_movement, got {value}")
                else:
                    _require(0 < value < 1, name, f"must be in (0, 1), got {value}")
        _require(self.min_heads_per_layer >= 1, "min_heads_per_layer", "must be >= 1")
        _require(self.importance_batches >= 1, "importance_batches", "must be >= 1")
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
    learning_rate: float = _help("Peak learning rate.", 3e-4)
    patience: int = _help("Early-stopping patience in epochs.", 3)
    vocab_transfer: int | None = _help(
        "Fast vocabulary transfer of the student before distillation: an in-domain WordPiece of this "
        "size, embeddings from the old pieces. None = off.",
        None,
    )
    vocab_transfer_mlm_steps: int = _help(
        "Masked-LM adaptation steps after vocabulary transfer (0 = none).", 0
    )

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


@dataclass(frozen=True)
class FinetuneAmpConfig:
    precision: str = _help(
        "auto (fp16 on CUDA, fp32 on CPU: bf16 autocast measured 1.4-1.5x slower on CPUs without "
        "AMX), fp16, bf16 or fp32.",
        "auto",
    )
    epochs: int = _help("Maximum epochs (0 skips the step's training and passes the model on).", 2)
    batch_size: int = _help("Batch size.", 32)
    learning_rate: float = _help("Peak learning rate.", 1e-4)
    alpha: float = _help("KD weight from the teacher (0 = plain CE).", 0.5)
    temperature: float = _help("KD temperature.", 2.0)
    patience: int = _help("Early-stopping patience.", 2)

    def __post_init__(self) -> None:
        opts = ("auto", "fp16", "bf16", "fp32")
        _require(self.precision in opts, "precision", f"must be one of {opts}, got {self.precision!r}")
        _require(0 <= self.alpha <= 1, "alpha", f"must be in [0, 1], got {self.alpha}")
        _require(self.temperature > 0, "temperature", f"must be > 0, got {self.temperature}")
        _check_training(self)


@dataclass(frozen=True)
class ExportConfig:
    opset: int = _help("ONNX opset.", 18)
    atol: float = _help("Maximum |ORT - PyTorch| on the logits of real inputs; larger fails the step.", 1e-3)
    quantize_int8: bool = _help("Also write an ORT dynamic int8 model (its accuracy is measured).", True)
    optimize: bool = _help("Apply ORT graph optimisation (no attention fusion for uneven heads).", True)
    parity_samples: int = _help("Test texts used for the parity check.", 64)

    def __post_init__(self) -> None:
        _require(self.atol > 0, "atol", f"must be > 0, got {self.atol}")
        _require(11 <= self.opset <= 23, "opset", f"must be in [11, 23], got {self.opset}")
        _require(self.parity_samples >= 1, "parity_samples", f"must be >= 1, got {self.parity_samples}")


@dataclass(frozen=True)
class BenchmarkConfig:
    batch_sizes: list[int] = _help("Batch sizes to time.", factory=lambda: [1, 32])
    sequence_length: int = _help("Fixed sequence length for latency (texts padded/truncated).", 64)
    rounds: int = _help("Interleaved rounds per variant.", 5)
    iterations: int = _help("Timed iterations per round.", 10)
    warmup: int = _help("Untimed warm-up iterations per variant.", 3)
    threads: int = _help("Intra-op threads for PyTorch and ORT (pinned).", 2)
    runtimes: list[str] = _help("pytorch, onnx, onnx-int8.", factory=lambda: ["pytorch", "onnx", "onnx-int8"])
    peak_memory: str = _help(
        "subprocess: RSS high-water mark of a fresh process per variant (~5-8 s each); off: skip.",
        "subprocess",
    )
    sequence_lengths: list[int] = _help(
        "More fixed sequence lengths to time besides sequence_length (e.g. [32, 128]); [] = only that one.",
        factory=list,
    )
    energy: bool = _help(
        "Measure inference energy/CO2 per 1,000 predictions of every variant with CodeCarbon "
        "(also needs tracking.codecarbon).",
        True,
    )
    energy_seconds: float = _help(
        "Seconds of inference per variant under the energy tracker (plus ~1.5 s to start it).", 2.0
    )
    tfidf_baseline: bool = _help(
        "Train a TF-IDF (char n-grams) + logistic regression baseline on the train split and "
        "benchmark it alongside (the cheap reference a user would try first).",
        True,
    )

    def __post_init__(self) -> None:
        _require(self.energy_seconds > 0, "energy_seconds", f"must be > 0, got {self.energy_seconds}")
        _require(
            all(length >= 1 for length in self.sequence_lengths),
            "sequence_lengths",
            f"must be positive integers, got {self.sequence_lengths}",
        )
        _require(
            self.peak_memory in ("subprocess", "off"),
            "peak_memory",
            f"must be 'subprocess' or 'off', got {self.peak_memory!r}",
        )
        _require(self.warmup >= 0, "warmup", f"must be >= 0, got {self.warmup}")
        _require(
            len(self.batch_sizes) > 0 and all(b >= 1 for b in self.batch_sizes),
            "batch_sizes",
            f"must be a non-empty list of positive integers, got {self.batch_sizes}",
        )
        allowed = {"pytorch", "onnx", "onnx-int8"}
        _require(
            set(self.runtimes) <= allowed,
            "runtimes",
            f"must be a subset of {sorted(allowed)}, got {self.runtimes}",
        )
        for name in ("sequence_length", "rounds", "iterations", "threads"):
            _require(getattr(self, name) >= 1, name, f"must be >= 1, got {getattr(self, name)}")


@dataclass(frozen=True)
class RegistryConfig:
    enabled: bool = _help("Run the promote step (register the student in the MLflow model registry).", True)
    model_name: str | None = _help("Registered model name; None = slimnlp-<run name>.", None)
    max_drop_vs_teacher: float = _help(
        "Largest test-accuracy drop below the teacher (same test set, fraction: 0.02 = 2 points) "
        "that still lets the student become champion.",
        0.02,
    )
    max_drop_vs_champion: float = _help(
        "Largest test-accuracy drop below the current champion, scored on this run's test set.", 0.01
    )
    gate: str = _help(
        "faster: the student must have lower latency than the teacher and the champion; smaller: "
        "fewer bytes on disk.",
        "faster",
    )
    latency_metric: str = _help("Benchmark column compared when gate=faster.", "latency_b1_p50_ms")

    def __post_init__(self) -> None:
        _require(
            self.gate in ("faster", "smaller"), "gate", f"must be 'faster' or 'smaller', got {self.gate!r}"
        )
        for name in ("max_drop_vs_teacher", "max_drop_vs_champion"):
            value = getattr(self, name)
            _require(0 <= value <= 1, name, f"must be in [0, 1] (a fraction of accuracy), got {value}")
        _require(
            self.model_name is None or bool(re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*$", self.model_name)),
            "model_name",
            f"must be letters, digits, '.', '_' or '-' (starting with a letter or digit), got {self.model_name!r}",
        )
        _require(
            bool(re.match(r"^latency_b[0-9]+_(p50|p95|mean)_ms$", self.latency_metric)),
            "latency_metric",
            f"must look like latency_b1_p50_ms (a benchmark latency column), got {self.latency_metric!r}",
        )


@dataclass(frozen=True)
class TrackingConfig:
    tracking_uri: str | None = _help(
        "MLflow tracking URI; None = MLFLOW_TRACKING_URI if set (KFP injects it), else sqlite:///<run dir>/mlflow.db.",
        None,
    )
    experiment: str = _help("MLflow experiment name.", "slimnlp")
    codecarbon: bool = _help("Measure energy and CO2 of every step with CodeCarbon (offline).", True)
    country_iso_code: str = _help("Country for CodeCarbon's offline carbon intensity.", "IND")


@dataclass(frozen=True)
class KubernetesConfig:
    image: str = _help(
        "Image every component runs in (point it at your registry).", "ghcr.io/slimnlp/slimnlp:0.1.0"
    )
    gpu_image: str | None = _help(
        "Image of the training steps (CUDA PyTorch, onnxruntime-gpu; docker/Dockerfile.gpu); None = image.",
        "ghcr.io/slimnlp/slimnlp:0.1.0-cuda",
    )
    accelerator_type: str = _help("Accelerator resource of the training steps.", "nvidia.com/gpu")
    accelerator_limit: int = _help("GPUs per training step (0 = CPU only).", 1)
    node_selector: dict[str, str] = _help(
        "Node selector of the training steps.", factory=lambda: {"nvidia.com/gpu.present": "true"}
    )
    tolerations: list[dict[str, str]] = _help(
        "Tolerations of the training steps.",
        factory=lambda: [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
    )
    cpu_request: str = _help("CPU request of every step.", "2")
    cpu_limit: str | None = _help("CPU limit of every step; None = no limit.", "8")
    memory_request: str = _help("Memory request of every step.", "8G")
    memory_limit: str = _help("Memory limit of every step.", "16G")
    env: dict[str, str] = _help(
        "Environment variables of every step, e.g. {AWS_ENDPOINT_URL: http://seaweedfs.mlops.svc:8333}.",
        factory=dict,
    )
    s3_secret: str | None = _help(
        "Kubernetes Secret (in the namespace the pipeline runs in) whose AWS_ACCESS_KEY_ID and "
        "AWS_SECRET_ACCESS_KEY keys become environment variables of every step (data on s3://); "
        "None = none.",
        None,
    )
    shm_size: str | None = _help(
        "Size of the in-memory /dev/shm of the training steps (DataLoader workers share tensors "
        "through it; the container default is 64M). Counts against memory_limit. None = no mount.",
        "2Gi",
    )
    retries: int = _help(
        "Retries of a failed step (pod evicted, node lost); steps with side effects never retry.", 2
    )
    retry_backoff_s: int = _help("Seconds before the first retry (then times retry_backoff_factor).", 60)
    retry_backoff_factor: float = _help("Backoff multiplier between retries.", 2.0)
    retry_backoff_max_s: int = _help("Stop retrying this many seconds after the first failure.", 3600)

    def __post_init__(self) -> None:
        _require(self.accelerator_limit >= 0, "accelerator_limit", "must be >= 0")
        _require(self.retries >= 0, "retries", f"must be >= 0, got {self.retries}")
        _require(self.retry_backoff_s >= 0, "retry_backoff_s", f"must be >= 0, got {self.retry_backoff_s}")
        _require(
            self.retry_backoff_factor >= 1,
            "retry_backoff_factor",
            f"must be >= 1, got {self.retry_backoff_factor}",
        )
        _require(
            self.retry_backoff_max_s >= self.retry_backoff_s,
            "retry_backoff_max_s",
            f"must be >= retry_backoff_s ({self.retry_backoff_s}), got {self.retry_backoff_max_s}",
        )
        quantity = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")
        for name in ("cpu_request", "cpu_limit", "memory_request", "memory_limit", "shm_size"):
            value = getattr(self, name)
            _require(
                value is None or bool(quantity.match(str(value))),
                name,
                f"must be a Kubernetes quantity such as 2, 500m, 8G or 2Gi, got {value!r}",
            )


@dataclass(frozen=True)
class GridConfig:
    enabled: bool = _help(
        "Run the paper's experiment grid instead of the compress pipeline: one prepare-data and one "
        "teacher, then a branch per (sparsity, KD, precision) doing block-movement prune, finetune-amp, "
        "export-onnx and benchmark, then one collect step (table + plot).",
        False,
    )
    sparsities: list[float] = _help(
        "Pruning levels of the grid (0 = train without pruning).", factory=lambda: [0.0, 0.25, 0.5, 0.75]
    )
    distillation: list[bool] = _help(
        "KD settings of the grid: false = CE only, true = prune.alpha KD.", factory=lambda: [False, True]
    )
    precisions: list[str] = _help(
        "Fine-tune precisions of the grid: fp32 and auto (AMP: fp16 on CUDA; on CPU what "
        "finetune_amp resolves, reported per row), or fp16/bf16.",
        factory=lambda: ["fp32", "auto"],
    )
    parallelism: int = _help(
        "Branches run at once (1 locally keeps latency measurements clean on a small machine).", 1
    )

    def __post_init__(self) -> None:
        _require(len(self.sparsities) > 0, "sparsities", "must not be empty")
        for value in self.sparsities:
            _require(0 <= value < 1, "sparsities", f"values must be in [0, 1), got {value}")
        _require(len(self.distillation) > 0, "distillation", "must not be empty")
        opts = ("auto", "fp16", "bf16", "fp32")
        for value in self.precisions:
            _require(value in opts, "precisions", f"values must be in {opts}, got {value!r}")
        _require(len(self.precisions) > 0, "precisions", "must not be empty")
        _require(self.parallelism >= 1, "parallelism", f"must be >= 1, got {self.parallelism}")


@dataclass(frozen=True)
class RunConfig:
    name: str = _help("Run name (MLflow parent run name and run directory name).", "marathi-sample")
    output_dir: str = _help("Where run directories are created.", "runs")
    seed: int = _help("Global seed.", 13)
    data: DataConfig = _help("prepare-data", factory=DataConfig)
    pretrain: PretrainConfig = _help("pretrain-mlm (optional)", factory=PretrainConfig)
    teacher: TeacherConfig = _help("train-teacher", factory=TeacherConfig)
    prune: PruneConfig = _help("prune", factory=PruneConfig)
    distill: DistillConfig = _help("distill", factory=DistillConfig)
    finetune_amp: FinetuneAmpConfig = _help("finetune-amp", factory=FinetuneAmpConfig)
    export: ExportConfig = _help("export-onnx", factory=ExportConfig)
    benchmark: BenchmarkConfig = _help("benchmark", factory=BenchmarkConfig)
    tracking: TrackingConfig = _help("MLflow and CodeCarbon", factory=TrackingConfig)
    registry: RegistryConfig = _help(
        "promote: MLflow model registry and the promotion gate", factory=RegistryConfig
    )
    kubernetes: KubernetesConfig = _help(
        "Cluster settings used by `slimnlp compile`", factory=KubernetesConfig
    )
    grid: GridConfig = _help(
        "The paper's experiment grid (slimnlp run with grid.enabled)", factory=GridConfig
    )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @property
    def run_dir(self) -> Path:
        return Path(self.output_dir) / self.name


# --------------------------------------------------------------------------------------------------
# Loading


def _coerce(value: Any, hint: Any, key: str) -> Any:
    """Check (and gently convert) one value against its type hint; errors name the key."""
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if value is None:
            return None
        return _coerce(value, args[0], key)
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise ConfigError(f"{key} must be a mapping, got {type(value).__name__}")
        return _build(hint, value, key)
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{key} must be a list, got {value!r}")
        (item,) = typing.get_args(hint)
        return [_coerce(v, item, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key} must be a mapping, got {value!r}")
        return {str(k): str(v) for k, v in value.items()}
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key} must be true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key} must be an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{key} must be a number, got {value!r}")
        return float(value)
    if hint is str:
        if isinstance(value, bool):
            raise ConfigError(
                f"{key} must be a string, got {value!r} (YAML reads on/off/yes/no as "
                f"booleans: quote the value, e.g. {key}='off')"
            )
        if not isinstance(value, str | int | float):
            raise ConfigError(f"{key} must be a string, got {value!r}")
        return str(value)
    return value


def _build(cls: type, values: dict[str, Any], prefix: str = "") -> Any:
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    for key in values:
        if key not in known:
            where = f"{prefix}.{key}" if prefix else key
            raise ConfigError(f"unknown config key {where!r}; known keys here: {sorted(known)}")
    kwargs = {k: _coerce(v, hints[k], f"{prefix}.{k}" if prefix else k) for k, v in values.items()}
    try:
        return cls(**kwargs)
    except ConfigError as err:
        raise ConfigError(f"{prefix}.{err}" if prefix else str(err)) from None


def _parse_override(text: str) -> tuple[list[str], Any]:
    if "=" not in text:
        raise ConfigError(f"--set {text!r} must look like key.path=value")
    key, raw = text.split("=", 1)
    return key.strip().split("."), yaml.safe_load(raw) if raw != "" else None


def config_from_dict(values: dict[str, Any], overrides: list[str] | None = None) -> RunConfig:
    values = json.loads(json.dumps(values or {}))  # deep copy, plain types only
    data_dir = os.environ.get("SLIMNLP_DATA_DIR")
    if data_dir:  # the environment beats the file; an explicit --set beats both
        values.setdefault("data", {})["dir"] = data_dir
    for text in overrides or []:
        path, value = _parse_override(text)
        node = values
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {text!r}: {part!r} is not a section")
        node[path[-1]] = value
    data = values.get("data")
    if isinstance(data, dict) and isinstance(data.get("dir"), str) and "://" not in data["dir"]:
        # Absolute, so a compiled pipeline or a step run from another folder reads the same files.
        data["dir"] = str(Path(data["dir"]).expanduser().resolve())
    pretrain = values.get("pretrain")
    if isinstance(pretrain, dict) and isinstance(pretrain.get("corpus"), list):
        pretrain["corpus"] = [
            str(Path(c).expanduser().resolve()) if isinstance(c, str) and "://" not in c else c
            for c in pretrain["corpus"]
        ]
    return _build(RunConfig, values)


def load_config(path: str | os.PathLike | None = None, overrides: list[str] | None = None) -> RunConfig:
    """Load a YAML run config (None = the built-in defaults) and apply `key.path=value` overrides."""
    values: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist; pass an existing YAML file to --config")
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"config file {path} must hold a mapping at the top level")
        values = loaded or {}
    # Relative paths (data.dir) are relative to the working directory, like every CLI path.
    return config_from_dict(values, overrides)


def config_from_json(text: str) -> RunConfig:
    return _build(RunConfig, json.loads(text))
