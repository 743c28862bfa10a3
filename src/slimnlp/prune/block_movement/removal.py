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

import torch
from torch import nn
from torch.nn.utils import parametrize

from slimnlp.models import encoder_layers, head_dim, layer_modules
from slimnlp.prune.base import PruneReport
from slimnlp.prune.block_movement.masks import ATTENTION, FFN, BlockMask, MaskController
from slimnlp.prune.removal import build_report, measure, remove_units

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


def _bake(linear: nn.Linear, mask: torch.Tensor, fill: str) -> None:
    """Remove the parametrization, keeping the trained weight; "zero" zeroes the masked blocks."""
    parametrize.remove_parametrizations(linear, "weight", leave_parametrized=False)
    if fill == "zero":
        with torch.no_grad():
            linear.weight.mul_(mask.to(linear.weight.dtype))


def finalize(
    model: nn.Module, controller: MaskController, fill: str = "zero", min_heads_per_layer: int = 1
) -> PruneReport:
    """Bake the current masks into the weights, remove parametrizations, remove heads and neurons.

    Args:
        model: The masked model (from `attach_masks`, trained).
        controller: Its controller, at the final kept fraction.
        fill: "zero" zeroes masked blocks of kept heads; "hybrid-filled" leaves their weights.
        min_heads_per_layer: Heads every layer keeps (already true for "head" blocks).

    Returns:
        The pruning report (weight sparsity counts removed or zeroed weights, structural sparsity
        removed ones only), with the attention block and FFN neuron densities the masks reached.
    """
    dim = head_dim(model)
    block_heads = all(t.scores.dim() == 1 for t in controller.tensors if t.group == ATTENTION)
    wanted = _wanted_heads_per_layer(controller) if block_heads else {}
    # The scores are not model weights: leave them out of the parameter counts.
    before = measure(model, extra_params=sum(t.scores.numel() for t in controller.tensors))
    densities = {
        "attention_block_density": controller.density(ATTENTION),
        "ffn_neuron_density": controller.density(FFN),
    }
    kept_heads, kept_neurons, clamped_layers = [], [], []
    for number, layer in enumerate(encoder_layers(model)):
        m = layer_modules(layer)
        linears = (m.query, m.key, m.value, m.attn_out, m.ffn_in, m.ffn_out)
        masks = {id(linear): _full_mask(linear) for linear in linears}
        o_scores = _mask_of(m.attn_out).expand(_mask_of(m.attn_out).mask_scores.detach().float())
        for linear in linears:
            _bake(linear, masks[id(linear)], fill)
        kept, clamped = _heads_to_keep(masks[id(m.attn_out)], o_scores, dim, min_heads_per_layer)
        if clamped or (block_heads and wanted.get(number, min_heads_per_layer) < min_heads_per_layer):
            clamped_layers.append(number)
        kept_heads.append(kept)
        kept_neurons.append(torch.nonzero(masks[id(m.ffn_in)][:, 0]).flatten().tolist())
    if clamped_layers:
        log.warning(
            "block movement: layers %s keep %d head(s) (prune.min_heads_per_layer) although the "
            "target would remove every head there",
            clamped_layers,
            min_heads_per_layer,
        )
    remove_units(model, kept_heads, kept_neurons)
    return build_report("block_movement", model, before, kept_heads, clamped_layers, densities)
