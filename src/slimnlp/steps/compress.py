"""The prune step: runs the registered pruner that prune.method names."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from slimnlp import models
from slimnlp.config import RunConfig
from slimnlp.mlops import tracking
from slimnlp.steps.common import _epoch_logger, _out, _save_model, _settings, _splits, _teacher_logits
from slimnlp.training.batches import evaluate
from slimnlp.training.device import default_device


def prune(
    cfg: RunConfig,
    data_dir: str | Path,
    teacher_dir: str | Path,
    out_dir: str | Path,
    *,
    parent_run_id: str | None = None,
) -> dict[str, Any]:
    """Structured pruning of heads and FFN neurons with physical removal: by first-order Taylor
    importance (prune.method=importance) or by block movement pruning with KD from the teacher
    (prune.method=block_movement); out_dir is a (smaller) model directory."""
    from slimnlp.prune.pruning import block_movement_prune, prune_model, taylor_importance

    p = cfg.prune
    out = _out(out_dir)
    with tracking.step_run(cfg, "prune", parent_run_id, params={"prune": cfg.to_dict()["prune"]}) as run:
        train, dev, test, id2label = _splits(data_dir)
        model, tokenizer = models.load_model_dir(teacher_dir, default_device())
        models.encoder_layers(model)  # fails early, naming supported types, for unknown layouts
        if p.method == "block_movement":
            teacher_logits = _teacher_logits(teacher_dir, train[0]) if p.alpha > 0 else None
            settings = dataclasses.replace(
                _settings(p, cfg, alpha=p.alpha, temperature=p.temperature),
                score_learning_rate=p.score_learning_rate,
            )
            report = block_movement_prune(
                model, tokenizer, train, dev, p, settings, teacher_logits, on_epoch=_epoch_logger(run)
            )
            print(
                f"prune (block movement, {p.block_size} blocks, target {p.target_sparsity:.0%}): heads per "
                f"layer {report['heads_per_layer_before']} -> {report['heads_per_layer_after']}, FFN "
                f"{report['neurons_per_layer_before']} -> {report['neurons_per_layer_after']}; structural "
                f"sparsity {report['structural_sparsity']:.1%}, weight sparsity {report['weight_sparsity']:.1%}",
                flush=True,
            )
            if report["layers_clamped_to_min_heads"]:
                print(
                    f"prune: layers {report['layers_clamped_to_min_heads']} keep {p.min_heads_per_layer} "
                    "head(s) (prune.min_heads_per_layer) although the target would remove every head there",
                    flush=True,
                )
            return _save_model(run, out, model, tokenizer, test, id2label, cfg, report)
        importance = taylor_importance(
            model,
            tokenizer,
            train[0],
            train[1],
            batches=p.importance_batches,
            batch_size=cfg.teacher.batch_size,
            max_length=cfg.teacher.max_length,
        )
        report = prune_model(
            model,
            importance,
            p.head_sparsity or p.target_sparsity,
            p.ffn_sparsity or p.target_sparsity,
            p.min_heads_per_layer,
        )
        print(
            f"prune: heads per layer {report['heads_per_layer_before']} -> {report['heads_per_layer_after']}, "
            f"FFN {report['neurons_per_layer_before']} -> {report['neurons_per_layer_after']}, "
            f"parameters {report['params_before']:,} -> {report['params_after']:,}",
            flush=True,
        )
        dev_scores = evaluate(model, tokenizer, dev[0], dev[1], cfg.teacher.max_length)
        extra = {**report, "dev_accuracy": dev_scores["accuracy"], "dev_macro_f1": dev_scores["macro_f1"]}
        return _save_model(run, out, model, tokenizer, test, id2label, cfg, extra)
