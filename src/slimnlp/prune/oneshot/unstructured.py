"""Unstructured and N:M one-shot pruners: magnitude, Wanda, SparseGPT.

    slimnlp prune --config C --set prune.method=wanda --set prune.target_sparsity=0.5 ...
    slimnlp prune --config C --set prune.method=sparsegpt --set prune.sparsegpt.pattern=2:4 ...

Every Q/K/V, attention output and FFN matrix of the encoder loses exactly the same fraction of each
output row (or holds N of every M consecutive inputs). Layers are pruned in order: the calibration
inputs of layer i are computed by the model whose layers 0..i-1 are already pruned. Weights are set
to zero, nothing is removed: the model has the same shapes, the same speed on CPU runtimes, and
compresses better on disk (`weight_sparsity`; `structural_sparsity` is 0).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import torch
from torch import nn

from slimnlp.config import PruneConfig
from slimnlp.models import encoder_layers, layer_modules
from slimnlp.prune.base import PruneContext, PruneReport, Split
from slimnlp.prune.methods import prune_method
from slimnlp.prune.oneshot.calibration import Calibration
from slimnlp.prune.oneshot.capture import InputStatistics, input_statistics
from slimnlp.prune.oneshot.common import calibrate, finish
from slimnlp.prune.oneshot.config import UnstructuredSection
from slimnlp.prune.oneshot.masks import check_n_m, choose_mask, reconstruction_error, sparsegpt
from slimnlp.prune.removal import build_report, measure

log = logging.getLogger(__name__)

SUBLAYERS = ("query", "key", "value", "attn_out", "ffn_in", "ffn_out")


def layer_linears(layer: nn.Module) -> dict[str, nn.Linear]:
    """The six prunable matrices of one encoder layer, by name."""
    m = layer_modules(layer)
    return {name: getattr(m, name) for name in SUBLAYERS}


def prune_weight(
    method: str,
    weight: torch.Tensor,
    stats: InputStatistics | None,
    sparsity: float,
    section: UnstructuredSection,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(new weight, mask) of one Linear by `method`, from its calibration input statistics."""
    n_m = section.n_m
    if method == "magnitude":
        mask = choose_mask(weight.abs(), sparsity, n_m)
        return weight.masked_fill(mask, 0), mask
    if stats is None:
        raise ValueError(f"{method} needs calibration statistics")
    if method == "wanda":
        scores = weight.abs() * stats.column_norms.to(weight.dtype).to(weight.device).unsqueeze(0)
        mask = choose_mask(scores, sparsity, n_m)
        return weight.masked_fill(mask, 0), mask
    if method == "sparsegpt":
        pruned, mask = sparsegpt(
            weight, stats.hessian, sparsity, n_m, damping=section.damping, block_size=section.block_size
        )
        return pruned.to(weight.device), mask.to(weight.device)
    raise ValueError(f"unknown one-shot method {method!r}")


def prune_layers(
    model: nn.Module,
    method: str,
    section: UnstructuredSection,
    sparsity: float,
    calibration: Calibration | None,
    progress: bool = True,
) -> dict[str, float]:
    """Prune every encoder layer in order; returns the reconstruction error of each matrix on its
    calibration inputs (per token, `layer<i>.<name>`), when there is a calibration set."""
    from tqdm.auto import tqdm

    layers = encoder_layers(model)
    if section.n_m is not None:
        for index, layer in enumerate(layers):
            for name, linear in layer_linears(layer).items():
                check_n_m(linear.in_features, section.n_m[1], f"layer {index} {name}")
    errors: dict[str, float] = {}
    for index, layer in enumerate(tqdm(layers, desc=f"{method} (layers)", disable=not progress)):
        linears = layer_linears(layer)
        stats = input_statistics(model, linears, calibration.batches, hessian=True) if calibration else None
        for name, linear in linears.items():
            original = linear.weight.data
            pruned, _ = prune_weight(method, original, stats[name] if stats else None, sparsity, section)
            if stats is not None:
                entry = stats[name]
                errors[f"layer{index}.{name}"] = reconstruction_error(original, pruned, entry.hessian) / max(
                    entry.tokens, 1
                )
            linear.weight.data.copy_(pruned.to(original.dtype))
    return errors


def magnitude_2of4(model: nn.Module) -> None:
    """Prune every encoder matrix to 2:4 by magnitude, no calibration (the CUDA sparse-kernel
    benchmark and its tests: speed does not depend on which weights are kept)."""
    from slimnlp.prune.oneshot.config import MagnitudeConfig

    prune_layers(model, "magnitude", MagnitudeConfig(pattern="2:4"), 0.5, None, progress=False)


class OneShotUnstructured:
    """One-shot pruning that zeroes weights (rows or N:M groups); the subclasses name the rule. Whether
    it calibrates is its method's record (`PruneMethod.calibrates`: magnitude does not)."""

    method = ""

    def wants_teacher_logits(self, config: PruneConfig) -> bool:
        return False

    def prune(
        self, model: Any, tokenizer: Any, train: Split, dev: Split, context: PruneContext
    ) -> PruneReport:
        started = time.perf_counter()
        section: UnstructuredSection = context.config.section
        sparsity = self.sparsity(context.config)
        before = measure(model)
        calibrates = prune_method(self.method).calibrates
        calibration = calibrate(model, tokenizer, train[0], context) if calibrates else None
        errors = prune_layers(model, self.method, section, sparsity, calibration, context.progress)
        kept = [list(range(n)) for n in before.heads_per_layer]
        extras: dict[str, Any] = {"pattern": section.pattern, "target_weight_sparsity": sparsity}
        if errors:
            extras["reconstruction_error"] = sum(errors.values())
        report = build_report(self.method, model, before, kept, [], extras)
        return finish(report, context, time.perf_counter() - started, calibration, {"layer_errors": errors})

    def sparsity(self, config: PruneConfig) -> float:
        """The fraction of every row pruned: prune.target_sparsity, or (M-N)/M for an N:M pattern."""
        n_m = config.section.n_m
        if n_m is None:
            return config.target_sparsity
        return (n_m[1] - n_m[0]) / n_m[1]


class MagnitudePruner(OneShotUnstructured):
    method = "magnitude"


class WandaPruner(OneShotUnstructured):
    method = "wanda"


class SparseGPTPruner(OneShotUnstructured):
    method = "sparsegpt"
