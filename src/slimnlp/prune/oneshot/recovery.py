"""Short recovery training that keeps one-shot sparsity: the zeroed weights stay zero.

    with zeros_kept(model):
        train_classifier(model, tokenizer, train, dev, settings, teacher_logits=logits)

A gradient hook zeroes the gradient of every weight of the prunable matrices that is zero now. With
AdamW a weight whose gradient is always zero gets no update (its moments stay zero) and no decay
(decay scales the weight, which is zero), so the pattern, unstructured or N:M, survives training.
The plain distill step does not do this: after it, unstructured sparsity is gone.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

from slimnlp.models import encoder_layers
from slimnlp.prune.oneshot.unstructured import layer_linears


@contextlib.contextmanager
def zeros_kept(model: nn.Module) -> Iterator[int]:
    """Within the block, zero weights of Q/K/V/O and the FFN get zero gradients; yields their count."""
    handles, frozen = [], 0
    for layer in encoder_layers(model):
        for linear in layer_linears(layer).values():
            keep = (linear.weight.detach() != 0).to(linear.weight.dtype)
            frozen += int((keep == 0).sum())
            handles.append(linear.weight.register_hook(lambda grad, keep=keep: grad * keep.to(grad.device)))
    try:
        yield frozen
    finally:
        for handle in handles:
            handle.remove()


def zero_count(model: nn.Module) -> int:
    """Zero weights in the prunable matrices (to check that recovery kept them)."""
    return sum(
        int(torch.count_nonzero(linear.weight == 0))
        for layer in encoder_layers(model)
        for linear in layer_linears(layer).values()
    )
