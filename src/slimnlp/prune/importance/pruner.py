"""Importance pruning: Taylor importance, one global ranking per unit kind, physical removal.

    slimnlp prune --config configs/default.yaml --set prune.method=importance --set prune.importance.batches=8

The lowest-scoring heads and FFN neurons (scores normalised per layer) are removed globally until the
target fraction is reached, never below `prune.min_heads_per_layer` heads in a layer. One shot: no
training, so the pruned model is usually distilled afterwards (the distill step).
"""

from __future__ import annotations

import logging
from typing import Any

from torch import nn

from slimnlp.config import PruneConfig
from slimnlp.prune.base import PruneContext, PruneReport, Split
from slimnlp.prune.importance.config import ImportanceConfig
from slimnlp.prune.importance.taylor import Importance, taylor_importance
from slimnlp.prune.removal import build_report, choose_removals, measure, remove_units
from slimnlp.training.batches import evaluate

log = logging.getLogger(__name__)


def prune_model(
    model: nn.Module,
    importance: Importance,
    head_fraction: float,
    ffn_fraction: float,
    min_heads_per_layer: int = 1,
) -> PruneReport:
    """Physically remove the least important heads and neurons; report what was removed."""
    before = measure(model)
    head_keep, clamped = choose_removals(importance.heads, head_fraction, min_heads_per_layer)
    neuron_keep, _ = choose_removals(importance.neurons, ffn_fraction, 1)
    if clamped:
        log.warning(
            "layers %s kept %d head(s) each (min_heads_per_layer) although the target asked for fewer",
            clamped,
            min_heads_per_layer,
        )
    remove_units(model, head_keep, neuron_keep)
    return build_report("importance", model, before, head_keep, clamped)


class ImportancePruner:
    def wants_teacher_logits(self, config: PruneConfig) -> bool:
        return False  # the importance loss is plain CE

    def prune(
        self, model: Any, tokenizer: Any, train: Split, dev: Split, context: PruneContext
    ) -> PruneReport:
        config = context.config
        section: ImportanceConfig = config.importance
        importance = taylor_importance(
            model,
            tokenizer,
            train[0],
            train[1],
            batches=section.batches,
            batch_size=section.batch_size,
            max_length=context.max_length,
        )
        report = prune_model(
            model, importance, config.head_fraction, config.ffn_fraction, config.min_heads_per_layer
        )
        scores = evaluate(model, tokenizer, dev[0], dev[1], context.max_length)
        report.extras.update(dev_accuracy=scores["accuracy"], dev_macro_f1=scores["macro_f1"])
        return report
