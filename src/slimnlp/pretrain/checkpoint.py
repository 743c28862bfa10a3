"""Checkpoints of masked-LM pretraining: model weights and training state, written atomically.

    from slimnlp.pretrain.checkpoint import load_checkpoint, save_checkpoint
    save_checkpoint(work_dir, model, {"step": 500, "optimizer": ..., "rng_cpu": ...})
    state = load_checkpoint(work_dir, model)   # None when there is none

A kill mid-save leaves the previous checkpoint (tmp dir + rename). Under torchrun only rank 0
writes (`slimnlp.pretrain.mlm.run_mlm`); every rank loads the same one to resume.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import torch
from torch import nn

CHECKPOINT_DIR = "checkpoint"
STATE_FILE = "training_state.pt"
# What must match for a checkpoint's weights to fit the model being resumed.
ARCHITECTURE_KEYS = (
    "model_type",
    "vocab_size",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
    "max_position_embeddings",
)


class PretrainError(ValueError):
    """Pretraining cannot start or resume (bad budget, vocabulary, or checkpoint); the message says why."""


def save_checkpoint(work_dir: Path, model: nn.Module, state: dict[str, Any]) -> Path:
    """Write model weights and training state to `work_dir/checkpoint` atomically (tmp dir + rename)."""
    final = work_dir / CHECKPOINT_DIR
    tmp = work_dir / (CHECKPOINT_DIR + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    torch.save(state, tmp / STATE_FILE)
    old = work_dir / (CHECKPOINT_DIR + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)
    return final


def load_checkpoint(work_dir: Path, model: nn.Module) -> dict[str, Any] | None:
    """Load weights into `model` and return the training state; None when there is no checkpoint."""
    import json

    from safetensors.torch import load_file

    ckpt = work_dir / CHECKPOINT_DIR
    if not (ckpt / STATE_FILE).is_file():
        return None
    saved = json.loads((ckpt / "config.json").read_text(encoding="utf-8"))
    ours = model.config.to_dict()
    differ = {k: (saved.get(k), ours.get(k)) for k in ARCHITECTURE_KEYS if saved.get(k) != ours.get(k)}
    if differ:
        detail = ", ".join(f"{k}: checkpoint {a} vs config {b}" for k, (a, b) in differ.items())
        raise PretrainError(
            f"checkpoint {ckpt} is from another architecture ({detail}); resume with the config it was "
            f"made with, or delete {ckpt} (or pick another output directory) to start afresh"
        )
    state_dict = load_file(str(ckpt / "model.safetensors"))
    missing, unexpected = model.load_state_dict(state_dict, strict=False)
    missing = [
        k
        for k in missing
        if not k.endswith(("decoder.weight", "decoder.bias", "position_ids", "token_type_ids"))
    ]
    if missing or unexpected:
        raise PretrainError(
            f"checkpoint {ckpt} does not fit the model: missing={missing[:5]} unexpected={unexpected[:5]}"
        )
    model.tie_weights()
    return torch.load(ckpt / STATE_FILE, weights_only=True)
