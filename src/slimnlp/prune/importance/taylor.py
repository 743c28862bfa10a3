"""First-order Taylor importance of attention heads and FFN neurons (Molchanov et al. 2019).

For a group of weights g, I(g) = sum |w * dL/dw| accumulated over a few training batches. A head's
group is its rows of Q, K, V and its columns of the attention output; an FFN neuron's group is row i
of the up-projection (and its bias) and column i of the down-projection.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from slimnlp.models import encoder_layers, head_dim, layer_modules
from slimnlp.training.batches import collate, encode, pad_id_of
from slimnlp.training.losses import combined_loss


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
