"""Structured pruning by importance, with physical removal of heads and FFN neurons.

Importance is first-order Taylor on the weights (Molchanov et al. 2019): for a group of weights g,
I(g) = sum |w * dL/dw| accumulated over a few training batches. A head's group is its rows of Q, K, V
and its columns of the attention output; an FFN neuron's group is row i of the up-projection (and
its bias) and column i of the down-projection. Scores are normalised per layer (L2) so that layers
compete fairly, then the lowest-scoring heads/neurons are removed globally. Masks alone make
nothing faster on CPU, so the Linear layers are sliced and the model really shrinks.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from slimnlp.modeling import (
    count_parameters,
    encoder_layers,
    head_dim,
    keep_heads,
    keep_neurons,
    layer_modules,
)
from slimnlp.training import collate, combined_loss, encode, pad_id_of

log = logging.getLogger(__name__)


@dataclass
class Importance:
    heads: list[torch.Tensor]  # per layer: one score per head
    neurons: list[torch.Tensor]  # per layer: one score per FFN neuron


def _taylor(param: torch.nn.Parameter) -> torch.Tensor:
    if param.grad is None:
        return torch.zeros_like(param)
    return (param.detach() * param.grad.detach()).abs()


def taylor_importance(
    model: nn.Module,
    tokenizer: Any,
    texts: list[str],
    labels: list[int],
    *,
    batches: int,
    batch_size: int,
    max_length: int,
    teacher_logits: torch.Tensor | None = None,
    alpha: float = 0.0,
    temperature: float = 2.0,
) -> Importance:
    """Accumulate |w * grad| per head and per FFN neuron over `batches` batches of the data."""
    device = next(model.parameters()).device.type
    dim = head_dim(model)
    layers = [layer_modules(layer) for layer in encoder_layers(model)]
    heads = [torch.zeros(m.query.out_features // dim) for m in layers]
    neurons = [torch.zeros(m.ffn_in.out_features) for m in layers]
    ids = encode(tokenizer, texts, max_length)
    label_tensor = torch.tensor(labels, dtype=torch.long)
    generator = torch.Generator().manual_seed(0)
    order = torch.randperm(len(ids), generator=generator).tolist()
    model.eval()  # no dropout: importance of the deterministic network
    for b in range(batches):
        chunk = order[(b * batch_size) % len(order) :][:batch_size] or order[:batch_size]
        batch = collate([ids[i] for i in chunk], pad_id_of(tokenizer), device)
        model.zero_grad(set_to_none=True)
        logits = model(**batch).logits
        t_logits = teacher_logits[chunk].to(device) if teacher_logits is not None else None
        combined_loss(logits, label_tensor[chunk].to(device), t_logits, alpha, temperature).backward()
        for i, m in enumerate(layers):
            qkv = sum(_taylor(p.weight).sum(1) + _taylor(p.bias) for p in (m.query, m.key, m.value))
            out_cols = _taylor(m.attn_out.weight).sum(0)
            heads[i] += (qkv + out_cols).view(-1, dim).sum(1).cpu()
            neurons[i] += (
                _taylor(m.ffn_in.weight).sum(1) + _taylor(m.ffn_in.bias) + _taylor(m.ffn_out.weight).sum(0)
            ).cpu()
    model.zero_grad(set_to_none=True)
    return Importance(heads=heads, neurons=neurons)


def _normalised(scores: list[torch.Tensor]) -> list[torch.Tensor]:
    return [s / (s.norm() + 1e-12) for s in scores]


def choose_removals(
    scores: list[torch.Tensor], fraction: float, min_keep: int
) -> tuple[list[list[int]], list[int]]:
    """Indices to keep per layer after removing `round(fraction * total)` lowest-scoring units globally,
    never leaving a layer with fewer than `min_keep` units. Also returns the layers that hit that floor
    while the ranking still wanted to remove more from them."""
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


def prune_model(
    model: nn.Module,
    importance: Importance,
    head_fraction: float,
    ffn_fraction: float,
    min_heads_per_layer: int = 1,
) -> dict[str, Any]:
    """Physically remove the least important heads and neurons; returns what was removed."""
    before = count_parameters(model)
    dim = head_dim(model)
    heads_before = [len(s) for s in importance.heads]
    neurons_before = [len(s) for s in importance.neurons]
    head_keep, clamped = choose_removals(importance.heads, head_fraction, min_heads_per_layer)
    neuron_keep, _ = choose_removals(importance.neurons, ffn_fraction, 1)
    if clamped:
        log.warning(
            "layers %s kept %d head(s) each (min_heads_per_layer) although the target asked for fewer",
            clamped,
            min_heads_per_layer,
        )
    for layer, heads, neurons in zip(encoder_layers(model), head_keep, neuron_keep, strict=True):
        keep_heads(layer, heads, dim)
        keep_neurons(layer, neurons)
    after = count_parameters(model)
    total_heads, total_neurons = sum(heads_before), sum(neurons_before)
    return {
        "kept_heads": head_keep,
        "heads_per_layer_before": heads_before,
        "heads_per_layer_after": [len(k) for k in head_keep],
        "neurons_per_layer_before": neurons_before,
        "neurons_per_layer_after": [len(k) for k in neuron_keep],
        "heads_removed": total_heads - sum(len(k) for k in head_keep),
        "neurons_removed": total_neurons - sum(len(k) for k in neuron_keep),
        "head_sparsity": 1 - sum(len(k) for k in head_keep) / total_heads,
        "ffn_sparsity": 1 - sum(len(k) for k in neuron_keep) / total_neurons,
        "layers_clamped_to_min_heads": clamped,
        "params_before": before["total"],
        "params_after": after["total"],
        "non_embedding_params_before": before["non_embedding"],
        "non_embedding_params_after": after["non_embedding"],
        "encoder_param_sparsity": 1 - after["non_embedding"] / before["non_embedding"],
    }
