"""The run config: one section per step, gathered in `RunConfig`, loaded from YAML, JSON or a dict.

    cfg = load_config("configs/mahanews-shc.yaml", overrides=["data.dir=../shared/data/mahanews-shc"])

The same object drives the CLI, the local pipeline run and the KFP pipeline parameters (it travels
as JSON). Unknown keys and bad values fail here, at load time, with the key's full path.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from slimnlp.config.base import ConfigError, Section, _build, _help
from slimnlp.config.benchmark import BenchmarkConfig
from slimnlp.config.data import DataConfig
from slimnlp.config.distill import DistillConfig
from slimnlp.config.export import ExportConfig
from slimnlp.config.finetune_amp import FinetuneAmpConfig
from slimnlp.config.grid import GridConfig
from slimnlp.config.kubernetes import KubernetesConfig
from slimnlp.config.pretrain import PretrainConfig
from slimnlp.config.prune import PruneConfig
from slimnlp.config.registry import SERVED_RUNTIMES, RegistryConfig
from slimnlp.config.teacher import TeacherConfig
from slimnlp.config.tracking import TrackingConfig


@dataclass(frozen=True)
class RunConfig(Section):
    name: str = _help(
        "Run name (MLflow parent run name and run directory name).",
        "marathi-sample",
        pattern=r"[^/]*[^/\s.][^/]*",
        means="a folder name: no '/', not empty, not only dots",
    )
    output_dir: str = _help("Where run directories are created.", "runs")
    seed: int = _help("Global seed.", 13, ge=0, lt=2**32)
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

    def check(self) -> None:
        # Checked here, not after an hour of training: the promote step gates the ONNX model it
        # registers, so the benchmark must time it.
        if self.registry.enabled and "onnx" not in self.benchmark.runtimes:
            raise ConfigError(
                f"benchmark.runtimes {self.benchmark.runtimes} lacks 'onnx', which the promote step "
                "compares with the teacher (registry.enabled): add onnx, or set registry.enabled: false"
            )
        promotes = self.registry.enabled and not self.grid.enabled  # the grid's DAG has no promote step
        if promotes and self.registry.serve_variant == "int8":
            missing = [
                fix
                for broken, fix in (
                    (not self.export.quantize_int8, "export.quantize_int8: true"),
                    (
                        SERVED_RUNTIMES["int8"] not in self.benchmark.runtimes,
                        "onnx-int8 in benchmark.runtimes",
                    ),
                )
                if broken
            ]
            if missing:
                raise ConfigError(
                    "registry.serve_variant is int8: the promote step registers, gates and serves the int8 "
                    f"ONNX model, which needs {' and '.join(missing)}; set them, or registry.serve_variant: fp32"
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


def _parse_override(text: str) -> tuple[list[str], Any]:
    if "=" not in text:
        raise ConfigError(f"--set {text!r} must look like key.path=value")
    key, raw = text.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw != "" else None
    except yaml.YAMLError as err:
        raise ConfigError(
            f"--set {text!r}: the value is not valid YAML ({_yaml_problem(err)}); quote it"
        ) from None
    return key.strip().split("."), value


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
        loaded = _read_yaml(path)
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"config file {path} must hold a mapping at the top level")
        # A data.dir from SLIMNLP_DATA_DIR or --set is where the data file names point, not this folder.
        dir_elsewhere = bool(os.environ.get("SLIMNLP_DATA_DIR")) or any(
            o.replace(" ", "").startswith("data.dir=") for o in overrides or []
        )
        values = resolve_file_paths(loaded or {}, path.resolve().parent, data_files=not dir_elsewhere)
    # Paths given by --set or SLIMNLP_DATA_DIR are relative to the working directory, like every CLI path.
    return config_from_dict(values, overrides)


def _read_yaml(path: Path) -> Any:
    """The file's YAML; a syntax error becomes one line naming the file, line and column."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
        raise ConfigError(f"{where}: YAML syntax error: {_yaml_problem(err)}") from None
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None


def _yaml_problem(err: yaml.YAMLError) -> str:
    """PyYAML's message without its multi-line excerpt of the file."""
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    context = getattr(err, "context", None)
    return f"{problem} ({context})" if context else problem


# Keys holding a local path; in a config file a relative one means "next to this file".
PATH_KEYS = (("output_dir",), ("data", "dir"), ("pretrain", "cache_dir"), ("pretrain", "corpus"))
DATA_FILE_KEYS = ("train_file", "dev_file", "test_file")


def resolve_file_paths(values: dict[str, Any], folder: Path, *, data_files: bool = True) -> dict[str, Any]:
    """The config file's values with every relative local path made absolute against `folder` (the
    config file's own folder), so a config means the same files from any working directory.

    Paths: output_dir, data.dir, data.train_file/dev_file/test_file when no data.dir is set anywhere
    (they resolve against data.dir otherwise; `data_files=False` when one comes from elsewhere), pretrain.corpus, pretrain.cache_dir, teacher.checkpoint when
    it starts with ./ or ../ or names an existing path there (else it is a model hub name), and the
    file of a sqlite:/// tracking URI. URIs (s3://, http(s)://, hf://) and absolute paths are kept."""

    def local(value: Any) -> Any:
        if not isinstance(value, str) or not value or "://" in value:
            return value
        expanded = Path(value).expanduser()
        return str(expanded if expanded.is_absolute() else (folder / expanded).resolve())

    values = json.loads(json.dumps(values))  # deep copy, plain types only
    for section, *key in PATH_KEYS:
        node = values if not key else values.get(section)
        name = section if not key else key[0]
        if isinstance(node, dict) and node.get(name) is not None:
            value = node[name]
            node[name] = [local(v) for v in value] if isinstance(value, list) else local(value)
    data = values.get("data")
    if data_files and isinstance(data, dict) and not data.get("dir"):
        for name in DATA_FILE_KEYS:
            if data.get(name) is not None:
                data[name] = local(data[name])
    teacher = values.get("teacher")
    checkpoint = teacher.get("checkpoint") if isinstance(teacher, dict) else None
    if isinstance(checkpoint, str) and (
        checkpoint.startswith(("./", "../", "~")) or (folder / checkpoint).exists()
    ):
        teacher["checkpoint"] = local(checkpoint)
    tracking = values.get("tracking")
    uri = tracking.get("tracking_uri") if isinstance(tracking, dict) else None
    if isinstance(uri, str) and uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        tracking["tracking_uri"] = "sqlite:///" + local(uri.removeprefix("sqlite:///"))
    return values


def config_from_json(text: str) -> RunConfig:
    return _build(RunConfig, json.loads(text))
