"""The prune step: runs the registered pruner that prune.method names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from slimnlp import models
from slimnlp.config import RunConfig
from slimnlp.data import load_splits
from slimnlp.steps.common import compute_teacher_logits, epoch_logger, finish_model_step, step_body
from slimnlp.training.device import default_device
from slimnlp.training.loop import LoopSettings


def prune(
    cfg: RunConfig,
    data_dir: str | Path,
    teacher_dir: str | Path,
    out_dir: str | Path,
    *,
    parent_run_id: str | None = None,
) -> dict[str, Any]:
    """Structured pruning of heads and FFN neurons with physical removal, by the pruner registered
    under prune.method (`slimnlp.prune`); out_dir is a (smaller) model directory."""
    from slimnlp.prune import PruneContext, prune_method

    p = cfg.prune
    method = prune_method(p.method)  # its record: whether it trains, uses the target sparsity
    pruner = method.load_pruner()
    with step_body(cfg, "prune", out_dir, parent_run_id) as (run, out):
        train, dev, test, id2label = load_splits(data_dir)
        model, tokenizer = models.load_model_dir(teacher_dir, default_device())
        models.encoder_layers(model)  # fails early, naming supported types, for unknown layouts
        max_length = models.max_length_of(tokenizer)
        # A pruner that trains runs the one loop with its section's settings (it adds its loss terms).
        loop = (
            LoopSettings.from_section(p.section, max_length=max_length, seed=cfg.seed)
            if method.trains
            else None
        )
        logits = compute_teacher_logits(teacher_dir, train[0]) if pruner.wants_teacher_logits(p) else None
        context = PruneContext(
            config=p,
            max_length=max_length,
            seed=cfg.seed,
            loop=loop,
            teacher_logits=logits,
            on_epoch=epoch_logger(run),
            run=cfg,
            out_dir=Path(out),
            mlflow_run=run,
        )
        report = pruner.prune(model, tokenizer, train, dev, context)
        target = f", target {p.target_sparsity:.0%}" if method.uses_target_sparsity else ""
        print(f"prune ({p.method}{target}): {report.summary()}", flush=True)
        return finish_model_step(run, out, model, tokenizer, test, id2label, report.metrics())
