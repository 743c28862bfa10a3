"""Structured pruning by importance, with physical removal of heads and FFN neurons.

Importance is first-order Taylor on the weights (Molchanov et al. 2019): for a group of weights g,
I(g) = sum |w * dL/dw| accumulated over a few training batches. A head's group is its rows of Q, K, V
and its columns of the attention output; an FFN neuron's group is row i of the up-projection (and
its bias) and column i of the down-projection. Scores are normalised per layer (L2) so that layers
compete fairly, then the lowest-scoring heads/neurons are removed globally. Masks alone make
nothing faster on CPU, so the Linear layers are sliced and the model really shrinks.

`block_movement_prune` drives the other method, block movement pruning (`slimnlp.prune.block_movement.masks`):
scores learnt in the training loop instead of a one-shot importance estimate, the same removal.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from slimnlp.models import (
    count_parameters,
    encoder_layers,
    head_dim,
    keep_heads,
    keep_neurons,
    layer_modules,
)
from slimnlp.training.batches import collate, encode, pad_id_of
from slimnlp.training.device import default_device
from slimnlp.training.loop import LoopSettings, train_classifier
from slimnlp.training.losses import combined_loss

if TYPE_CHECKING:
    from slimnlp.config import PruneConfig

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


# --------------------------------------------------------------------------------------------------
# Block movement pruning (the method lives in slimnlp.prune.block_movement.masks; this is how a step drives it)


def block_movement_prune(
    model: nn.Module,
    tokenizer: Any,
    train: tuple[list[str], list[int]],
    dev: tuple[list[str], list[int]],
    prune_cfg: PruneConfig,
    settings: LoopSettings,
    teacher_logits: torch.Tensor | None = None,
    on_epoch: Callable[[int, dict[str, float]], None] | None = None,
    device: str | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Train scores and weights with top-k masks on a cubic schedule (KD in the loss when
    `settings.alpha` > 0 and teacher logits are given), then remove empty heads and masked neurons.

    Args:
        model: The teacher copy to prune, in place.
        tokenizer: Its tokenizer.
        train: (texts, labels) to train on; `teacher_logits` are on these texts, same order.
        dev: (texts, labels) for early stopping (only epochs at the target density count).
        prune_cfg: `target_sparsity` (or `head_sparsity`/`ffn_sparsity`), `block_size`,
            `warmup_fraction`, `cooldown_fraction`, `min_heads_per_layer`, `fill`.
        settings: The loop settings (epochs, batch size, weight and score learning rates, alpha).
        teacher_logits: The teacher's logits on `train`, for the KD term.
        on_epoch: Called with (epoch, record) after each epoch (MLflow logging).
        device: Where to train; None = CUDA when available.
        progress: Show progress bars and per-epoch lines.

    Returns:
        The history of the training loop and the `movement_removal.finalize` report, with the
        kept fraction the schedule reached per group.
    """
    from slimnlp.prune.block_movement.masks import ATTENTION, FFN, attach_masks, schedule_steps
    from slimnlp.prune.block_movement.removal import finalize

    device = device or default_device()
    model.to(device)
    controller = attach_masks(model, prune_cfg.block_size, prune_cfg.min_heads_per_layer)
    finals = {
        ATTENTION: 1
        - (prune_cfg.head_sparsity if prune_cfg.head_sparsity is not None else prune_cfg.target_sparsity),
        FFN: 1
        - (prune_cfg.ffn_sparsity if prune_cfg.ffn_sparsity is not None else prune_cfg.target_sparsity),
    }
    schedules = {
        group: schedule_steps(
            len(train[0]),
            settings.batch_size,
            settings.epochs,
            prune_cfg.warmup_fraction,
            prune_cfg.cooldown_fraction,
            final,
        )
        for group, final in finals.items()
    }
    first_eligible = schedules[ATTENTION][2]

    def on_step(step: int, total_steps: int) -> None:
        for group, (schedule, _, _) in schedules.items():
            controller.kept[group] = schedule(step)

    history = train_classifier(
        model,
        tokenizer,
        train,
        dev,
        dataclasses.replace(settings, first_eligible_epoch=first_eligible),
        teacher_logits=teacher_logits,
        on_epoch=on_epoch,
        progress=progress,
        device=device,
        on_step=on_step,
    )
    controller.kept.update(finals)  # the best epoch is at the target, so this changes nothing then
    report = finalize(model, controller, prune_cfg.fill, prune_cfg.min_heads_per_layer)
    refill: dict[str, Any] | None = None
    if prune_cfg.fill == "hybrid-filled" and prune_cfg.refill_epochs > 0:
        refill = train_classifier(
            model,
            tokenizer,
            train,
            dev,
            dataclasses.replace(settings, epochs=prune_cfg.refill_epochs, first_eligible_epoch=1),
            teacher_logits=teacher_logits,
            progress=progress,
            device=device,
        )
    return {
        **history,
        **report,
        "method": "block_movement",
        "block_size": prune_cfg.block_size,
        "fill": prune_cfg.fill,
        "target_sparsity": prune_cfg.target_sparsity,
        "first_eligible_epoch": first_eligible,
        "refill": refill,
    }
