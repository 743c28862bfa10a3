"""After block movement pruning: bake the masks in, remove empty heads and masked neurons, report.

    controller = attach_masks(model, "32")
    ... train ...
    report = finalize(model, controller, fill="zero", min_heads_per_layer=1)

A head contributes to the layer output only through its columns of the attention output matrix O:
when every one of them is masked, the head (with its Q/K/V rows) is removed and the model computes
exactly what the masked model did. Likewise an FFN neuron whose shared score is masked. What stays
masked inside kept heads is zeroed ("zero") or left as trained ("hybrid-filled", to be re-distilled).
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch import nn
from torch.nn.utils import parametrize

from slimnlp.models import (
    count_parameters,
    encoder_layers,
    head_dim,
    keep_heads,
    keep_neurons,
    layer_modules,
)
from slimnlp.prune.block_movement.masks import ATTENTION, FFN, BlockMask, MaskController

log = logging.getLogger(__name__)


def _mask_of(linear: nn.Linear) -> BlockMask:
    return next(p for p in linear.parametrizations.weight if isinstance(p, BlockMask))


def _full_mask(linear: nn.Linear) -> torch.Tensor:
    mask = _mask_of(linear)
    return mask.expand(mask.controller.binary(mask.index)).detach().bool()


def _wanted_heads_per_layer(controller: MaskController) -> dict[int, int]:
    """Heads per layer the global ranking alone would keep ("head" blocks): floors ignored."""
    members = [t for t in controller.tensors if t.group == ATTENTION]
    flat = torch.cat([t.scores.detach().flatten().cpu() for t in members])
    k = round(controller.kept[ATTENTION] * flat.numel())
    if k == 0:
        return {t.layer: 0 for t in members}
    threshold = flat.topk(k).values.min()
    return {t.layer: int((t.scores.detach().cpu() >= threshold).sum()) for t in members}


def _heads_to_keep(
    o_mask: torch.Tensor, o_scores: torch.Tensor, dim: int, min_heads: int
) -> tuple[list[int], bool]:
    """Heads with any unmasked O column; topped up to `min_heads` by score. (kept, clamped)."""
    heads = o_mask.shape[1] // dim
    alive = [h for h in range(heads) if bool(o_mask[:, h * dim : (h + 1) * dim].any())]
    if len(alive) >= min_heads:
        return alive, False
    per_head = o_scores.view(o_mask.shape[0], heads, dim).mean(dim=(0, 2))
    ranked = [h for h in per_head.argsort(descending=True).tolist() if h not in alive]
    return sorted(alive + ranked[: min(min_heads, heads) - len(alive)]), True


def finalize(
    model: nn.Module, controller: MaskController, fill: str = "zero", min_heads_per_layer: int = 1
) -> dict[str, Any]:
    """Bake the current masks into the weights, remove parametrizations, remove heads and neurons.

    Args:
        model: The masked model (from `attach_masks`, trained).
        controller: Its controller, at the final kept fraction.
        fill: "zero" zeroes masked blocks of kept heads; "hybrid-filled" leaves their weights.
        min_heads_per_layer: Heads every layer keeps (already true for "head" blocks).

    Returns:
        The pruning report: heads/neurons per layer before and after, the reached weight sparsity
        (removed or zeroed weights over the prunable encoder weights) and the structural sparsity
        (removed weights only), and the layers a floor kept heads in.
    """
    dim = head_dim(model)
    block_heads = all(t.scores.dim() == 1 for t in controller.tensors if t.group == ATTENTION)
    wanted = _wanted_heads_per_layer(controller) if block_heads else {}
    params_before = count_parameters(model)  # the scores are not model weights: leave them out
    score_count = sum(t.scores.numel() for t in controller.tensors)
    params_before = {k: v - score_count if k != "embeddings" else v for k, v in params_before.items()}
    report: dict[str, Any] = {
        "heads_per_layer_before": [],
        "heads_per_layer_after": [],
        "neurons_per_layer_before": [],
        "neurons_per_layer_after": [],
        "kept_heads": [],
        "layers_clamped_to_min_heads": [],
        "attention_block_density": controller.density(ATTENTION),
        "ffn_neuron_density": controller.density(FFN),
    }
    prunable_before = 0
    for number, layer in enumerate(encoder_layers(model)):
        m = layer_modules(layer)
        linears = (m.query, m.key, m.value, m.attn_out, m.ffn_in, m.ffn_out)
        prunable_before += sum(linear.weight.numel() for linear in linears)
        masks = {id(linear): _full_mask(linear) for linear in linears}
        o_scores = _mask_of(m.attn_out).expand(_mask_of(m.attn_out).mask_scores.detach().float())
        neuron_mask = masks[id(m.ffn_in)][:, 0]
        for linear in linears:
            parametrize.remove_parametrizations(linear, "weight", leave_parametrized=False)
            if fill == "zero":
                with torch.no_grad():
                    linear.weight.mul_(masks[id(linear)].to(linear.weight.dtype))
        kept, clamped = _heads_to_keep(masks[id(m.attn_out)], o_scores, dim, min_heads_per_layer)
        if block_heads and wanted.get(number, min_heads_per_layer) < min_heads_per_layer:
            clamped = True
        if clamped:
            report["layers_clamped_to_min_heads"].append(number)
        neurons = torch.nonzero(neuron_mask).flatten().tolist()
        report["heads_per_layer_before"].append(m.query.out_features // dim)
        report["neurons_per_layer_before"].append(m.ffn_in.out_features)
        keep_heads(layer, kept, dim)
        keep_neurons(layer, neurons)
        report["kept_heads"].append(kept)
        report["heads_per_layer_after"].append(len(kept))
        report["neurons_per_layer_after"].append(len(neurons))
    if report["layers_clamped_to_min_heads"]:
        log.warning(
            "block movement: layers %s keep %d head(s) (prune.min_heads_per_layer) although the "
            "target would remove every head there",
            report["layers_clamped_to_min_heads"],
            min_heads_per_layer,
        )
    return _summarise(model, report, prunable_before, params_before)


def _summarise(
    model: nn.Module, report: dict[str, Any], prunable_before: int, params_before: dict[str, int]
) -> dict[str, Any]:
    remaining = nonzero = 0
    for layer in encoder_layers(model):
        m = layer_modules(layer)
        for linear in (m.query, m.key, m.value, m.attn_out, m.ffn_in, m.ffn_out):
            remaining += linear.weight.numel()
            nonzero += int(torch.count_nonzero(linear.weight))
    heads_before, heads_after = sum(report["heads_per_layer_before"]), sum(report["heads_per_layer_after"])
    neurons_before = sum(report["neurons_per_layer_before"])
    neurons_after = sum(report["neurons_per_layer_after"])
    params_after = count_parameters(model)
    return {
        **report,
        "heads_removed": heads_before - heads_after,
        "neurons_removed": neurons_before - neurons_after,
        "head_sparsity": 1 - heads_after / heads_before,
        "ffn_sparsity": 1 - neurons_after / neurons_before,
        # Removed weights over the prunable encoder weights (Q/K/V/O, FFN): what makes it faster.
        "structural_sparsity": 1 - remaining / prunable_before,
        # Removed or zeroed: what a sparse kernel or a compressor could exploit on top.
        "weight_sparsity": 1 - nonzero / prunable_before,
        "params_before": params_before["total"],
        "params_after": params_after["total"],
        "non_embedding_params_before": params_before["non_embedding"],
        "non_embedding_params_after": params_after["non_embedding"],
        "encoder_param_sparsity": 1 - params_after["non_embedding"] / params_before["non_embedding"],
    }
