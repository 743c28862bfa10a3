"""Model directories, surgery (slice heads, neurons, layers) and building from a config.

from slimnlp import models
model, tokenizer = models.load_model_dir("runs/x/teacher")
"""

from slimnlp.models.build import build_bert, count_parameters, load_checkpoint, train_wordpiece
from slimnlp.models.directory import (
    DEFAULT_MAX_LENGTH,
    METRICS_FILE,
    dir_size_bytes,
    load_model_dir,
    max_length_of,
    model_max_length,
    read_metrics,
    save_model_dir,
    write_metrics,
)
from slimnlp.models.surgery import (
    LAYOUT_FILE,
    SUPPORTED_MODEL_TYPES,
    LayerModules,
    ModelDirError,
    apply_layout,
    encoder_layers,
    head_dim,
    keep_heads,
    keep_layers,
    keep_neurons,
    layer_modules,
    model_layout,
)

__all__ = [
    "LAYOUT_FILE",
    "DEFAULT_MAX_LENGTH",
    "METRICS_FILE",
    "SUPPORTED_MODEL_TYPES",
    "LayerModules",
    "ModelDirError",
    "apply_layout",
    "build_bert",
    "count_parameters",
    "dir_size_bytes",
    "encoder_layers",
    "head_dim",
    "keep_heads",
    "keep_layers",
    "keep_neurons",
    "layer_modules",
    "load_checkpoint",
    "load_model_dir",
    "max_length_of",
    "model_max_length",
    "model_layout",
    "read_metrics",
    "save_model_dir",
    "train_wordpiece",
    "write_metrics",
]
