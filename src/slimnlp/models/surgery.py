"""Model surgery: find a BERT-layout encoder's parts and physically slice heads, FFN neurons and layers.

Only structurally removed heads, neurons and layers make a model faster on CPU; a mask alone does not.
`model_layout` records the per-layer sizes that `apply_layout` rebuilds (transformers 5 has no
`prune_heads` and BertConfig cannot express per-layer sizes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

LAYOUT_FILE = "slimnlp_layout.json"


# Model types whose encoder layers share BERT's module layout (attention.self.{query,key,value},
# attention.output.dense, intermediate.dense, output.dense).
SUPPORTED_MODEL_TYPES = ("bert", "roberta", "xlm-roberta", "electra", "camembert")


class ModelDirError(ValueError):
    """A path is not a usable slimnlp/Hugging Face model directory."""


@dataclass
class LayerModules:
    query: nn.Linear
    key: nn.Linear
    value: nn.Linear
    attn_out: nn.Linear
    ffn_in: nn.Linear
    ffn_out: nn.Linear
    attention: nn.Module  # the self-attention module, which carries the head counts


def encoder_layers(model: nn.Module) -> list[nn.Module]:
    model_type = getattr(model.config, "model_type", "?")
    if model_type not in SUPPORTED_MODEL_TYPES:
        raise ModelDirError(
            f"model type {model_type!r} has no known attention layout for pruning; supported: "
            f"{', '.join(SUPPORTED_MODEL_TYPES)}"
        )
    base = getattr(model, model.base_model_prefix, model)
    return list(base.encoder.layer)


def layer_modules(layer: nn.Module) -> LayerModules:
    attn = layer.attention.self
    return LayerModules(
        query=attn.query,
        key=attn.key,
        value=attn.value,
        attn_out=layer.attention.output.dense,
        ffn_in=layer.intermediate.dense,
        ffn_out=layer.output.dense,
        attention=attn,
    )


def head_dim(model: nn.Module) -> int:
    return model.config.hidden_size // model.config.num_attention_heads


def model_layout(model: nn.Module) -> dict[str, Any]:
    """Per-layer head counts and FFN sizes as they are now."""
    layers = [layer_modules(layer) for layer in encoder_layers(model)]
    layout = {
        "head_dim": head_dim(model),
        "heads_per_layer": [m.query.out_features // head_dim(model) for m in layers],
        "intermediate_sizes": [m.ffn_in.out_features for m in layers],
    }
    pooling = getattr(model.config, "slimnlp_pooling", None)
    return layout | ({"pooling": pooling} if pooling else {})


def _slice_linear(linear: nn.Linear, index: torch.Tensor, dim: int) -> nn.Linear:
    """A new Linear keeping `index` along `dim` (0 = outputs, 1 = inputs)."""
    weight = linear.weight.detach().index_select(dim, index.to(linear.weight.device)).clone()
    bias = linear.bias.detach().clone() if linear.bias is not None else None
    if dim == 0 and bias is not None:
        bias = bias.index_select(0, index.to(bias.device)).clone()
    out_features, in_features = weight.shape
    new = nn.Linear(
        in_features, out_features, bias=bias is not None, device=weight.device, dtype=weight.dtype
    )
    new.weight.data.copy_(weight)
    if bias is not None:
        new.bias.data.copy_(bias)
    return new


def keep_heads(layer: nn.Module, heads: list[int], dim_per_head: int) -> None:
    """Physically keep only `heads` (indices) in one layer's self-attention."""
    if not heads:
        raise ValueError("a layer must keep at least one attention head")
    mods = layer_modules(layer)
    rows = torch.cat([torch.arange(h * dim_per_head, (h + 1) * dim_per_head) for h in sorted(heads)])
    attn = mods.attention
    attn.query = _slice_linear(mods.query, rows, 0)
    attn.key = _slice_linear(mods.key, rows, 0)
    attn.value = _slice_linear(mods.value, rows, 0)
    layer.attention.output.dense = _slice_linear(mods.attn_out, rows, 1)
    attn.num_attention_heads = len(heads)
    attn.all_head_size = len(heads) * dim_per_head


def keep_neurons(layer: nn.Module, neurons: list[int]) -> None:
    """Physically keep only `neurons` (indices) of one layer's FFN."""
    if not neurons:
        raise ValueError("a layer must keep at least one FFN neuron")
    mods = layer_modules(layer)
    index = torch.tensor(sorted(neurons), dtype=torch.long)
    layer.intermediate.dense = _slice_linear(mods.ffn_in, index, 0)
    layer.output.dense = _slice_linear(mods.ffn_out, index, 1)


def apply_layout(model: nn.Module, layout: dict[str, Any]) -> None:
    """Give a freshly built model the shapes recorded in a layout (weights are loaded afterwards)."""
    layers = encoder_layers(model)
    heads, sizes = layout["heads_per_layer"], layout["intermediate_sizes"]
    if len(heads) != len(layers) or len(sizes) != len(layers):
        raise ModelDirError(f"layout describes {len(heads)} layers but the config has {len(layers)}")
    for layer, n_heads, n_neurons in zip(layers, heads, sizes, strict=True):
        keep_heads(layer, list(range(n_heads)), layout["head_dim"])
        keep_neurons(layer, list(range(n_neurons)))


def keep_layers(model: nn.Module, count: int) -> list[int]:
    """Keep `count` evenly spaced encoder layers (first and last included); returns their indices."""
    layers = encoder_layers(model)
    if count >= len(layers):
        return list(range(len(layers)))
    if count == 1:
        chosen = [len(layers) - 1]
    else:
        chosen = sorted({round(i * (len(layers) - 1) / (count - 1)) for i in range(count)})
    base = getattr(model, model.base_model_prefix)
    base.encoder.layer = nn.ModuleList([layers[i] for i in chosen])
    model.config.num_hidden_layers = len(chosen)
    return chosen
