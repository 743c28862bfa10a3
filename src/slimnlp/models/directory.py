"""Model directories: save and load (structurally pruned) encoder classifiers.

A model directory is a Hugging Face save (config.json, model.safetensors, tokenizer files) plus
`slimnlp_layout.json`, which records the per-layer head counts and FFN sizes, so a pruned model is
rebuilt exactly. Loading never unpickles anything: weights come from safetensors only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from torch import nn

from slimnlp.models.surgery import LAYOUT_FILE, ModelDirError, apply_layout, model_layout

METRICS_FILE = "metrics.json"
# A tokenizer that states no bound (hub tokenizers say 1e30) is cut here; train-teacher always saves
# teacher.max_length with its tokenizer, so every model directory of a run carries its own length.
DEFAULT_MAX_LENGTH = 128


def max_length_of(tokenizer: Any) -> int:
    """The sequence length a model directory's tokenizer truncates at: the one length every step,
    export, benchmark and serving use for that model (the teacher's, saved by train-teacher)."""
    value = getattr(tokenizer, "model_max_length", None)
    return int(value) if isinstance(value, int | float) and 0 < value <= 100_000 else DEFAULT_MAX_LENGTH


def model_max_length(model_dir: str | Path) -> int:
    """`max_length_of` for a model directory, read from its tokenizer_config.json (no tokenizer load)."""
    config = Path(model_dir, "tokenizer_config.json")
    value = (
        json.loads(config.read_text(encoding="utf-8")).get("model_max_length") if config.is_file() else None
    )
    return int(value) if isinstance(value, int | float) and 0 < value <= 100_000 else DEFAULT_MAX_LENGTH


def dir_size_bytes(path: str | Path) -> int:
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


def save_model_dir(
    model: nn.Module, tokenizer: Any, out_dir: str | Path, metrics: dict[str, Any] | None = None
) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    layout = model_layout(model)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / LAYOUT_FILE).write_text(json.dumps(layout, indent=2), encoding="utf-8")
    _add_remote_code(out, layout)
    if metrics is not None:
        write_metrics(out, metrics)
    return out


def _add_remote_code(out: Path, layout: dict[str, Any]) -> None:
    """Make the directory loadable by plain transformers (`trust_remote_code=True`): the modeling
    file beside the weights, the layout and `auto_map` in config.json (slimnlp.models.remote_code)."""
    import shutil

    from slimnlp.models import remote_code

    config_file = out / "config.json"
    if not config_file.is_file():  # a follower rank under torchrun: transformers saved nothing here
        return
    config = json.loads(config_file.read_text(encoding="utf-8"))
    cls = remote_code.CLASS_OF_MODEL_TYPE.get(config.get("model_type"))
    if cls is None:
        return  # not a layout we prune: the stock class loads it
    shutil.copyfile(remote_code.__file__, out / REMOTE_CODE_FILE)
    config["slimnlp_layout"] = layout
    config["auto_map"] = {"AutoModelForSequenceClassification": f"{REMOTE_CODE_FILE[:-3]}.{cls.__name__}"}
    config_file.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")


REMOTE_CODE_FILE = "slimnlp_modeling.py"


def write_metrics(out_dir: str | Path, metrics: dict[str, Any]) -> None:
    Path(out_dir, METRICS_FILE).write_text(json.dumps(metrics, indent=2, sort_keys=True), encoding="utf-8")


def read_metrics(model_dir: str | Path) -> dict[str, Any]:
    path = Path(model_dir, METRICS_FILE)
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def load_model_dir(path: str | Path, device: str = "cpu"):
    """Load (model, tokenizer) from a model directory, rebuilding pruned shapes from the layout."""
    from safetensors.torch import load_file
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    path = Path(path)
    if not (path / "config.json").is_file():
        raise ModelDirError(
            f"{path} is not a model directory (no config.json); pass the output directory of "
            "train-teacher, prune, distill or finetune-amp, or a Hugging Face model directory"
        )
    tokenizer = AutoTokenizer.from_pretrained(path)
    layout_file = path / LAYOUT_FILE
    if not layout_file.is_file():
        model = AutoModelForSequenceClassification.from_pretrained(path)
        return model.to(device).eval(), tokenizer
    weights = path / "model.safetensors"
    if not weights.is_file():
        raise ModelDirError(f"{path} has {LAYOUT_FILE} but no model.safetensors")
    config = AutoConfig.from_pretrained(path)
    layout = json.loads(layout_file.read_text(encoding="utf-8"))
    model = AutoModelForSequenceClassification.from_config(config)
    apply_layout(model, layout)
    if layout.get("pooling"):  # a zero-layer student: mean pooling (slimnlp.models.remote_code)
        from slimnlp.models.remote_code import MEAN_POOLING, use_mean_pooling

        if layout["pooling"] != MEAN_POOLING:
            raise ModelDirError(
                f"{layout_file}: pooling {layout['pooling']!r} is unknown; the one known is 'mean'"
            )
        use_mean_pooling(model)
    state = load_file(str(weights))
    missing, unexpected = model.load_state_dict(state, strict=False)
    # Tied/derived buffers such as position_ids may be absent from the file; real weights may not.
    missing = [k for k in missing if not k.endswith(("position_ids", "token_type_ids"))]
    if missing or unexpected:
        raise ModelDirError(
            f"{weights} does not match its layout: missing={missing[:5]} unexpected={unexpected[:5]}"
        )
    return model.to(device).eval(), tokenizer
