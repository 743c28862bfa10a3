"""Scores of attention heads and FFN neurons from calibration activations, no labels.

    heads, neurons = fisher_scores(model, calibration.batches)       # Kwon et al. 2022
    heads, neurons = fluctuation_scores(model, calibration.batches)  # FLAP (An et al. 2024)

Fisher: a mask of ones multiplies each head's context vector and each neuron's activation (one mask
row per text); the score is the sum over texts of the squared gradient of the loss against the
model's own prediction (no labels needed), i.e. the diagonal of the empirical Fisher of the masks.
Fluctuation: the variance of the unit's input to the output projection over calibration tokens times
the squared norm of its output weights: how much the layer's output moves with that unit.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from slimnlp.models import encoder_layers, head_dim, layer_modules
from slimnlp.prune.oneshot.capture import hooked_eval, run_real_tokens


def _self_prediction_loss(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Summed cross-entropy against the model's own argmax (per text for a classifier, per real token
    for a masked-LM head): summed, so each text's gradient is its own."""
    if logits.dim() == 3:  # (batch, tokens, vocabulary): a language-model head
        real = mask.bool()
        logits = logits[real]
    return F.cross_entropy(logits, logits.detach().argmax(-1), reduction="sum")


def fisher_scores(model: nn.Module, batches: list[dict[str, torch.Tensor]]) -> tuple[list, list]:
    """Per layer: the empirical Fisher of one mask per head and one per FFN neuron."""
    dim = head_dim(model)
    layers = [layer_modules(layer) for layer in encoder_layers(model)]
    heads = [torch.zeros(m.query.out_features // dim, dtype=torch.float64) for m in layers]
    neurons = [torch.zeros(m.ffn_in.out_features, dtype=torch.float64) for m in layers]
    state: dict[str, list[torch.Tensor]] = {"head": [], "neuron": []}

    def masking(kind: str, index: int, repeat: int):
        def hook(_module, args):
            mask = state[kind][index]
            return (args[0] * mask.repeat_interleave(repeat, dim=1).unsqueeze(1).to(args[0].dtype),)

        return hook

    handles = []
    for i, m in enumerate(layers):
        handles.append(m.attn_out.register_forward_pre_hook(masking("head", i, dim)))
        handles.append(m.ffn_out.register_forward_pre_hook(masking("neuron", i, 1)))
    with hooked_eval(model, handles) as device:
        for batch in batches:
            batch = {k: v.to(device) for k, v in batch.items()}
            size = batch["input_ids"].shape[0]
            state["head"] = [torch.ones(size, len(h), device=device, requires_grad=True) for h in heads]
            state["neuron"] = [torch.ones(size, len(n), device=device, requires_grad=True) for n in neurons]
            loss = _self_prediction_loss(model(**batch).logits, batch["attention_mask"])
            grads = torch.autograd.grad(loss, state["head"] + state["neuron"])
            for i in range(len(layers)):
                heads[i] += grads[i].double().pow(2).sum(0).cpu()
                neurons[i] += grads[len(layers) + i].double().pow(2).sum(0).cpu()
    return heads, neurons


def fluctuation_scores(model: nn.Module, batches: list[dict[str, torch.Tensor]]) -> tuple[list, list]:
    """Per layer: variance of each unit's input to its output projection over real tokens x the squared
    norm of its output weights (summed over a head's dimensions)."""
    dim = head_dim(model)
    layers = [layer_modules(layer) for layer in encoder_layers(model)]
    modules = {f"attn{i}": m.attn_out for i, m in enumerate(layers)}
    modules |= {f"ffn{i}": m.ffn_out for i, m in enumerate(layers)}
    sums = {name: [0.0, 0.0, 0] for name in modules}  # sum x, sum x^2, tokens

    def accumulate(name: str, inputs: torch.Tensor, _outputs: torch.Tensor) -> None:
        rows = inputs.double().cpu()
        entry = sums[name]
        entry[0] = entry[0] + rows.sum(0)
        entry[1] = entry[1] + (rows * rows).sum(0)
        entry[2] += rows.shape[0]

    run_real_tokens(model, batches, modules, accumulate)
    heads, neurons = [], []
    for i, m in enumerate(layers):
        per_input = []
        for name, linear in ((f"attn{i}", m.attn_out), (f"ffn{i}", m.ffn_out)):
            total, squares, count = sums[name]
            variance = squares / count - (total / count) ** 2
            per_input.append(variance * linear.weight.detach().double().cpu().pow(2).sum(0))
        heads.append(per_input[0].view(-1, dim).sum(1))
        neurons.append(per_input[1])
    return heads, neurons
