"""One run config, one dataclass per step.

    cfg = load_config("configs/mahanews-shc.yaml", overrides=["data.dir=../shared/data/mahanews-shc"])

The same object drives the CLI, the local pipeline run and the KFP pipeline parameters (it travels
as JSON). Unknown keys and bad values fail here, at load time, with the key's full path.
"""

from __future__ import annotations

import dataclasses
import json
import os
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
    method: str = _help("importance: first-order Taylor importance of heads and FFN neurons.", "importance")
    target_sparsity: float = _help("Fraction of attention heads and FFN neurons to remove, in (0, 1).", 0.25)
    head_sparsity: float | None = _help("Fraction of heads to remove; defaults to target_sparsity.", None)
    ffn_sparsity: float | None = _help(
        "Fraction of FFN neurons to remove; defaults to target_sparsity.", None
    )
    min_heads_per_layer: int = _help("Never remove the last heads of a layer below this count.", 1)
    importance_batches: int = _help("Training batches used to estimate importance.", 16)

    def __post_init__(self) -> None:
        _require(self.method in ("importance",), "method", f"must be 'importance', got {self.method!r}")
        for name in ("target_sparsity", "head_sparsity", "ffn_sparsity"):
            value = getattr(self, name)
            if value is not None:
                _require(0 < value < 1, name, f"must be in (0, 1), got {value}")
        _require(self.min_heads_per_layer >= 1, "min_heads_per_layer", "must be >= 1")
        _require(self.importance_batches >= 1, "importance_batches", "must be >= 1")


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

    def __post_init__(self) -> None:
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

    def __post_init__(self) -> None:
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
    gpu_image: str | None = _help("Image for the GPU training steps; None = image.", None)
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
    memory_request: str = _help("Memory request of every step.", "8G")
    memory_limit: str = _help("Memory limit of every step.", "16G")

    def __post_init__(self) -> None:
        _require(self.accelerator_limit >= 0, "accelerator_limit", "must be >= 0")


@dataclass(frozen=True)
class RunConfig:
    name: str = _help("Run name (MLflow parent run name and run directory name).", "marathi-sample")
    output_dir: str = _help("Where run directories are created.", "runs")
    seed: int = _help("Global seed.", 13)
    data: DataConfig = _help("prepare-data", factory=DataConfig)
    teacher: TeacherConfig = _help("train-teacher", factory=TeacherConfig)
    prune: PruneConfig = _help("prune", factory=PruneConfig)
    distill: DistillConfig = _help("distill", factory=DistillConfig)
    finetune_amp: FinetuneAmpConfig = _help("finetune-amp", factory=FinetuneAmpConfig)
    export: ExportConfig = _help("export-onnx", factory=ExportConfig)
    benchmark: BenchmarkConfig = _help("benchmark", factory=BenchmarkConfig)
    tracking: TrackingConfig = _help("MLflow and CodeCarbon", factory=TrackingConfig)
    kubernetes: KubernetesConfig = _help(
        "Cluster settings used by `slimnlp compile`", factory=KubernetesConfig
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
