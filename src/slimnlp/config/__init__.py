"""One run config, one dataclass per step (one module per section), loaded and validated here.

    from slimnlp.config import load_config
    cfg = load_config("configs/mahanews-shc.yaml", overrides=["prune.target_sparsity=0.4"])

Torch-free: the CLI, KFP compile and `--help` read it without the training stack. `base` holds the
error type, `Section` (one `__post_init__` checks every field's declared `Constraint`) and typed
building; `training` the fields the training sections share; `schema` the JSON Schema and the key
list of `slimnlp config-schema`; `run` gathers the sections and loads files. Every public name is
importable from `slimnlp.config`.
"""

from slimnlp.config.base import ConfigError, Section
from slimnlp.config.benchmark import BenchmarkConfig
from slimnlp.config.constraints import Constraint
from slimnlp.config.data import DataConfig
from slimnlp.config.distill import DistillConfig
from slimnlp.config.export import ExportConfig
from slimnlp.config.finetune_amp import FinetuneAmpConfig
from slimnlp.config.grid import GridConfig
from slimnlp.config.kubernetes import KubernetesConfig
from slimnlp.config.pretrain import PretrainConfig
from slimnlp.config.prune import PruneConfig
from slimnlp.config.prune_registry import PRUNE_METHODS, PruneMethodConfig, prune_method, prune_methods
from slimnlp.config.registry import RegistryConfig
from slimnlp.config.run import RunConfig, config_from_dict, config_from_json, load_config
from slimnlp.config.teacher import TeacherConfig
from slimnlp.config.tracking import TrackingConfig
from slimnlp.config.training import OptimizerSection, TrainingSection
from slimnlp.prune.block_movement.config import BlockMovementConfig
from slimnlp.prune.importance.config import ImportanceConfig
from slimnlp.prune.nas.config import NasConfig
from slimnlp.prune.oneshot.config import (
    CalibrationConfig,
    MagnitudeConfig,
    SparseGPTConfig,
    StructuredOneShotConfig,
    WandaConfig,
)

__all__ = [
    "PRUNE_METHODS",
    "BenchmarkConfig",
    "BlockMovementConfig",
    "CalibrationConfig",
    "ConfigError",
    "Constraint",
    "DataConfig",
    "DistillConfig",
    "ExportConfig",
    "FinetuneAmpConfig",
    "GridConfig",
    "ImportanceConfig",
    "KubernetesConfig",
    "MagnitudeConfig",
    "NasConfig",
    "OptimizerSection",
    "PretrainConfig",
    "PruneConfig",
    "PruneMethodConfig",
    "RegistryConfig",
    "RunConfig",
    "Section",
    "SparseGPTConfig",
    "StructuredOneShotConfig",
    "TeacherConfig",
    "TrackingConfig",
    "TrainingSection",
    "WandaConfig",
    "config_from_dict",
    "config_from_json",
    "load_config",
    "prune_method",
    "prune_methods",
]
