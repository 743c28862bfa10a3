"""The weight-sharing super-network: importance order, masked sub-networks, physical slicing.

    order = order_by_importance(model, importance)     # heads and neurons permuted, same function
    with active(model, arch):                          # arch's prefixes masked, dropped layers skipped
        logits = model(**batch).logits
    slice_subnetwork(model, arch)                      # the same sub-network, physically smaller

Once every layer's heads and FFN neurons sit in descending importance, a sub-network is a prefix
per layer, so masking (training, cheap to switch) and slicing (serving, really faster) agree: the
sliced model gives the masked super-network's logits.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn

from slimnlp.models import encoder_layers, head_dim, keep_heads, keep_neurons, layer_modules
from slimnlp.prune.importance import Importance
from slimnlp.prune.nas.space import SubNetwork


@dataclass(frozen=True)
class UnitOrder:
    """Per layer, the original indices of the heads and neurons in their new (descending) order."""

    heads: list[list[int]]
    neurons: list[list[int]]

    def kept_heads(self, arch: SubNetwork) -> list[list[int]]:
        """The teacher's head indices each kept layer of `arch` keeps."""
        return [sorted(self.heads[i][: arch.layers[i][0]]) for i in arch.kept_layers]


def _permute(linear: nn.Linear, index: torch.Tensor, dim: int) -> None:
    linear.weight.data = linear.weight.data.index_select(dim, index).contiguous()
    if dim == 0 and linear.bias is not None:
        linear.bias.data = linear.bias.data.index_select(0, index).contiguous()


def order_by_importance(model: nn.Module, importance: Importance) -> UnitOrder:
    """Permute every layer's heads and FFN neurons into descending importance (in place). The model
    computes the same function; prefixes of it are now the most important units."""
    dim = head_dim(model)
    heads, neurons = [], []
    for layer, head_scores, neuron_scores in zip(
        encoder_layers(model), importance.heads, importance.neurons, strict=True
    ):
        m = layer_modules(layer)
        head_order = torch.argsort(head_scores, descending=True, stable=True)
        rows = torch.cat([torch.arange(h * dim, (h + 1) * dim) for h in head_order.tolist()])
        for linear in (m.query, m.key, m.value):
            _permute(linear, rows, 0)
        _permute(m.attn_out, rows, 1)
        neuron_order = torch.argsort(neuron_scores, descending=True, stable=True)
        _permute(m.ffn_in, neuron_order, 0)
        _permute(m.ffn_out, neuron_order, 1)
        heads.append(head_order.tolist())
        neurons.append(neuron_order.tolist())
    return UnitOrder(heads=heads, neurons=neurons)


# --------------------------------------------------------------------------------------------------
# Masked (training) and sliced (serving) sub-networks


def _prefix_mask(width: int, kept: int, device, dtype) -> torch.Tensor:
    mask = torch.zeros(width, device=device, dtype=dtype)
    mask[:kept] = 1
    return mask


@contextlib.contextmanager
def active(model: nn.Module, arch: SubNetwork) -> Iterator[nn.Module]:
    """Run `model` as the sub-network `arch`: dropped layers are skipped, and the inputs of each kept
    layer's attention output and FFN output projections are masked to the kept prefix (a removed
    head's context and a removed neuron's activation contribute nothing, exactly as when sliced)."""
    base = getattr(model, model.base_model_prefix)
    layers = base.encoder.layer
    dim = head_dim(model)
    hooks = []
    for i in arch.kept_layers:
        heads, units = arch.layers[i]
        m = layer_modules(layers[i])
        weight = m.attn_out.weight
        if heads * dim < m.attn_out.in_features:
            mask = _prefix_mask(m.attn_out.in_features, heads * dim, weight.device, weight.dtype)
            hooks.append(m.attn_out.register_forward_pre_hook(lambda _, args, mask=mask: (args[0] * mask,)))
        if units < m.ffn_out.in_features:
            mask = _prefix_mask(m.ffn_out.in_features, units, weight.device, weight.dtype)
            hooks.append(m.ffn_out.register_forward_pre_hook(lambda _, args, mask=mask: (args[0] * mask,)))
    base.encoder.layer = nn.ModuleList([layers[i] for i in arch.kept_layers])
    try:
        yield model
    finally:
        base.encoder.layer = layers
        for hook in hooks:
            hook.remove()


def slice_subnetwork(model: nn.Module, arch: SubNetwork) -> nn.Module:
    """Physically keep only `arch` (in place): dropped layers leave the encoder, each kept layer keeps
    its prefix of heads and neurons. Returns the model."""
    layers = encoder_layers(model)
    if len(arch.layers) != len(layers):
        raise ValueError(
            f"sub-network {arch.key} describes {len(arch.layers)} layers, the model has {len(layers)}"
        )
    dim = head_dim(model)
    for i in arch.kept_layers:
        heads, units = arch.layers[i]
        keep_heads(layers[i], list(range(heads)), dim)
        keep_neurons(layers[i], list(range(units)))
    base = getattr(model, model.base_model_prefix)
    base.encoder.layer = nn.ModuleList([layers[i] for i in arch.kept_layers])
    model.config.num_hidden_layers = len(arch.kept_layers)
    return model
