"""One run config, one dataclass per step (one module per section), loaded and validated here.

    from slimnlp.config import load_config
    cfg = load_config("configs/mahanews-shc.yaml", overrides=["prune.target_sparsity=0.4"])

Torch-free: the CLI, KFP compile and `--help` read it without the training stack. `base` holds the
error type and typed building, `run` gathers the sections and loads files; every public name is
importable from `slimnlp.config`.
"""

from slimnlp.config.base import ConfigError
from slimnlp.config.benchmark import BenchmarkConfig
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
    "DataConfig",
    "DistillConfig",
    "ExportConfig",
    "FinetuneAmpConfig",
    "GridConfig",
    "ImportanceConfig",
    "KubernetesConfig",
    "MagnitudeConfig",
    "NasConfig",
    "PretrainConfig",
    "PruneConfig",
    "PruneMethodConfig",
    "RegistryConfig",
    "RunConfig",
    "SparseGPTConfig",
    "StructuredOneShotConfig",
    "TeacherConfig",
    "TrackingConfig",
    "WandaConfig",
    "config_from_dict",
    "config_from_json",
    "load_config",
    "prune_method",
    "prune_methods",
]
