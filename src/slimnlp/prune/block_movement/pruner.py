"""Block movement pruning as a step runs it: masks, the cubic schedule inside the one training loop
(KD from the teacher in the same loss), then removal (`removal.finalize`) and an optional re-fill.

    slimnlp prune --config configs/paper-grid.yaml --set prune.block_movement.block_size=32
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from slimnlp.config import PruneConfig
from slimnlp.prune.base import PruneContext, PruneReport, Split
from slimnlp.prune.block_movement import masks
from slimnlp.prune.block_movement.config import BlockMovementConfig
from slimnlp.prune.block_movement.removal import finalize
from slimnlp.training.device import default_device
from slimnlp.training.loop import LoopSettings, train_classifier


# ~90 lines, a third of them the docstring: the schedule callback, the training and the removal
# share the mask controller, and read best in one place.
def block_movement_prune(
    model: nn.Module,
    tokenizer: Any,
    train: Split,
    dev: Split,
    prune_cfg: PruneConfig,
    settings: LoopSettings,
    teacher_logits: torch.Tensor | None = None,
    on_epoch: Callable[[int, dict[str, float]], None] | None = None,
    device: str | None = None,
    progress: bool = True,
) -> PruneReport:
    """Train scores and weights with top-k masks on a cubic schedule (KD in the loss when
    `settings.alpha` > 0 and teacher logits are given), then remove empty heads and masked neurons.

    Args:
        model: The teacher copy to prune, in place.
        tokenizer: Its tokenizer.
        train: (texts, labels) to train on; `teacher_logits` are on these texts, same order.
        dev: (texts, labels) for early stopping (only epochs at the target density count).
        prune_cfg: The prune section: the target fractions, `min_heads_per_layer`, and
            `block_movement` (block size, warm-up and cool-down fractions, fill, refill epochs).
        settings: The loop settings (epochs, batch size, weight and score learning rates, alpha).
        teacher_logits: The teacher's logits on `train`, for the KD term.
        on_epoch: Called with (epoch, record) after each epoch (MLflow logging).
        device: Where to train; None = CUDA when available.
        progress: Show progress bars and per-epoch lines.

    Returns:
        The report of `finalize`, with the training loop's history and the re-fill's in `extras`.
    """
    section: BlockMovementConfig = prune_cfg.block_movement
    device = device or default_device()
    model.to(device)
    controller = masks.attach_masks(model, section.block_size, prune_cfg.min_heads_per_layer)
    finals = {masks.ATTENTION: 1 - prune_cfg.head_fraction, masks.FFN: 1 - prune_cfg.ffn_fraction}
    schedules = {
        group: masks.schedule_steps(
            len(train[0]),
            settings.batch_size,
            settings.epochs,
            section.warmup_fraction,
            section.cooldown_fraction,
            final,
        )
        for group, final in finals.items()
    }
    first_eligible = schedules[masks.ATTENTION][2]

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
    report = finalize(model, controller, section.fill, prune_cfg.min_heads_per_layer)
    refill: dict[str, Any] | None = None
    if section.fill == "hybrid-filled" and section.refill_epochs > 0:
        refill = train_classifier(
            model,
            tokenizer,
            train,
            dev,
            dataclasses.replace(settings, epochs=section.refill_epochs, first_eligible_epoch=1),
            teacher_logits=teacher_logits,
            progress=progress,
            device=device,
        )
    report.extras.update(
        history,
        block_size=section.block_size,
        fill=section.fill,
        target_sparsity=prune_cfg.target_sparsity,
        first_eligible_epoch=first_eligible,
        refill=refill,
    )
    return report


class BlockMovementPruner:
    def wants_teacher_logits(self, config: PruneConfig) -> bool:
        return config.block_movement.alpha > 0

    def prune(
        self, model: Any, tokenizer: Any, train: Split, dev: Split, context: PruneContext
    ) -> PruneReport:
        if context.loop is None:
            raise ValueError("block_movement trains: its PruneContext needs loop settings (context.loop)")
        section = context.config.block_movement
        settings = dataclasses.replace(  # the step built the loop from this section; add the loss terms
            context.loop,
            alpha=section.alpha,
            temperature=section.temperature,
            score_learning_rate=section.score_learning_rate,
        )
        return block_movement_prune(
            model,
            tokenizer,
            train,
            dev,
            context.config,
            settings,
            context.teacher_logits,
            on_epoch=context.on_epoch,
            device=context.device,
            progress=context.progress,
        )
