"""Calibrated one-shot pruners' sections (prune.magnitude, prune.wanda, prune.sparsegpt,
prune.structured_oneshot) and the calibration texts they share (prune.calibration). Torch-free.

SKELETON (issue 16): the fields below are placeholders to be completed with the pruners.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from slimnlp.config.base import _help
from slimnlp.config.prune_registry import PruneMethodConfig, prune_method


@dataclass(frozen=True)
class CalibrationConfig:
    source: str = _help("Where calibration texts come from: 'train' (the task's training split).", "train")
    samples: int = _help("Calibration texts.", 128)


@prune_method("magnitude")
@dataclass(frozen=True)
class MagnitudeConfig(PruneMethodConfig):
    SUMMARY: ClassVar[str] = "one-shot unstructured magnitude pruning (baseline)"


@prune_method("wanda")
@dataclass(frozen=True)
class WandaConfig(PruneMethodConfig):
    SUMMARY: ClassVar[str] = "one-shot |W| x ||X|| pruning per output row from calibration activations"


@prune_method("sparsegpt")
@dataclass(frozen=True)
class SparseGPTConfig(PruneMethodConfig):
    SUMMARY: ClassVar[str] = "one-shot pruning with reconstruction from the calibration Hessian"


@prune_method("structured_oneshot")
@dataclass(frozen=True)
class StructuredOneShotConfig(PruneMethodConfig):
    SUMMARY: ClassVar[str] = "one-shot removal of heads and FFN neurons scored on calibration activations"
