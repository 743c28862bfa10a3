"""Physical removal shared by every method: choose what to remove, remove it, report it.

    kept, clamped = choose_removals(head_scores, 0.25, min_keep=1)
    before = measure(model)                  # before any weight changes
    remove_units(model, kept_heads, kept_neurons)
    report = build_report("importance", model, before, kept_heads, clamped)

The slicing itself (`keep_heads`, `keep_neurons`) lives in `slimnlp.models.surgery`; masks alone make
nothing faster on CPU, so the Linear layers are sliced and the model really shrinks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from slimnlp.models import (
    count_parameters,
    encoder_layers,
    head_dim,
    keep_heads,
    keep_neurons,
    layer_modules,
    model_layout,
)
from slimnlp.prune.base import PruneReport


def _normalised(scores: list[torch.Tensor]) -> list[torch.Tensor]:
    return [s / (s.norm() + 1e-12) for s in scores]


def choose_removals(
    scores: list[torch.Tensor], fraction: float, min_keep: int
) -> tuple[list[list[int]], list[int]]:
    """Indices to keep per layer after removing `round(fraction * total)` lowest-scoring units globally,
    never leaving a layer with fewer than `min_keep` units. Also returns the layers that hit that floor
    while the ranking still wanted to remove more from them.

    Scores are normalised per layer (L2) first, so that layers compete fairly."""
    total = sum(len(s) for s in scores)
    to_remove = int(round(fraction * total))
    flat = [(float(v), layer, idx) for layer, s in enumerate(_normalised(scores)) for idx, v in enumerate(s)]
    flat.sort()
    kept = [set(range(len(s))) for s in scores]
    removed, clamped = 0, set()
    for _, layer, idx in flat:
        if removed >= to_remove:
            break
        if len(kept[layer]) <= min_keep:
            clamped.add(layer)
            continue
        kept[layer].discard(idx)
        removed += 1
    return [sorted(k) for k in kept], sorted(clamped)


def _prunable(model: nn.Module) -> list[nn.Linear]:
    """The encoder weights pruning acts on: Q, K, V, O and both FFN matrices of every layer."""
    found = []
    for layer in encoder_layers(model):
        m = layer_modules(layer)
        found += [m.query, m.key, m.value, m.attn_out, m.ffn_in, m.ffn_out]
    return found


@dataclass(frozen=True)
class Before:
    """The model before removal: per-layer units, parameters and prunable weights."""

    heads_per_layer: list[int]
    neurons_per_layer: list[int]
    params: dict[str, int]
    prunable_weights: int


def measure(model: nn.Module, extra_params: int = 0) -> Before:
    """The model as it is now; `extra_params` are parameters that are not model weights (mask
    scores) and are left out of the counts."""
    dim = head_dim(model)
    layers = [layer_modules(layer) for layer in encoder_layers(model)]
    params = count_parameters(model)
    return Before(
        heads_per_layer=[m.query.out_features // dim for m in layers],
        neurons_per_layer=[m.ffn_in.out_features for m in layers],
        params={k: v - extra_params if k != "embeddings" else v for k, v in params.items()},
        prunable_weights=sum(linear.weight.numel() for linear in _prunable(model)),
    )


def remove_units(model: nn.Module, kept_heads: list[list[int]], kept_neurons: list[list[int]]) -> None:
    """Keep only these heads and FFN neurons in each layer (the others are sliced away)."""
    dim = head_dim(model)
    for layer, heads, neurons in zip(encoder_layers(model), kept_heads, kept_neurons, strict=True):
        keep_heads(layer, heads, dim)
        keep_neurons(layer, neurons)


def build_report(
    method: str,
    model: nn.Module,
    before: Before,
    kept_heads: list[list[int]],
    clamped: list[int],
    extras: dict[str, Any] | None = None,
) -> PruneReport:
    """The report of a model after removal, measured on the model itself."""
    linears = _prunable(model)
    remaining = sum(linear.weight.numel() for linear in linears)
    nonzero = sum(int(torch.count_nonzero(linear.weight)) for linear in linears)
    layout = model_layout(model)
    return PruneReport(
        method=method,
        heads_per_layer_before=before.heads_per_layer,
        heads_per_layer_after=layout["heads_per_layer"],
        neurons_per_layer_before=before.neurons_per_layer,
        neurons_per_layer_after=layout["intermediate_sizes"],
        kept_heads=kept_heads,
        layers_clamped_to_min_heads=clamped,
        params_before=before.params,
        params_after=count_parameters(model),
        structural_sparsity=1 - remaining / before.prunable_weights,
        weight_sparsity=1 - nonzero / before.prunable_weights,
        layout=layout,
        extras=dict(extras or {}),
    )
