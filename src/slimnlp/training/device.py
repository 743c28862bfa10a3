"""Where and in which precision a step trains: the device, the precision that runs there and why, seeds."""

from __future__ import annotations

import random

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def resolve_precision(requested: str, device: str) -> tuple[str, str]:
    """The precision to train in and why; fp16 needs CUDA, and bf16 on CPUs without AMX is slower."""
    if requested == "auto":
        if device.startswith("cuda"):
            return "fp16", "auto: CUDA device, fp16 autocast with gradient scaling"
        return "fp32", (
            "auto: CPU; bf16 autocast measured 1.4-1.5x slower than fp32 on CPUs without AMX, so fp32"
        )
    if requested == "fp16" and not device.startswith("cuda"):
        return "fp32", "fp16 requested but no CUDA device: fp16 autocast is CUDA-only, fell back to fp32"
    return requested, f"{requested} requested"


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"
