"""One training loop for teacher fine-tuning, distillation, movement pruning and mixed-precision fine-tuning.

What differs between those steps is configuration, not code: the loss is
`alpha * KD(teacher_logits, T) + (1 - alpha) * CE`, the precision is fp32/fp16/bf16, and early
stopping keeps the best dev macro-F1 checkpoint. Under `torchrun` the loop is data-parallel (DDP;
`slimnlp.training.distributed`): each process takes its rows of the same global batch, rank 0
scores dev and every process follows its early-stopping decision.
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from slimnlp.training import distributed
from slimnlp.training.batches import (
    collate,
    epoch_order,
    evaluate,
    label_tensor,
    length_stats,
    pad_id_of,
    take,
    token_ids,
)
from slimnlp.training.device import default_device, seed_everything
from slimnlp.training.losses import combined_loss

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoopSettings:
    epochs: int
    batch_size: int
    learning_rate: float
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    patience: int = 3
    alpha: float = 0.0  # weight of the KD term
    temperature: float = 2.0
    precision: str = "fp32"  # fp32 | fp16 | bf16 (resolved, never "auto")
    max_length: int = 128
    seed: int = 13
    eval_batch_size: int = 64
    # Movement pruning: parameters named "*mask_scores" learn at this rate, without weight decay.
    score_learning_rate: float | None = None
    # Epochs before this one neither count as best nor use up patience (a pruning schedule that has
    # not reached its target density yet would otherwise win on dev and be restored).
    first_eligible_epoch: int = 1
    # The config section these come from (named in resource errors) and its time budget.
    section: str = ""
    budget_seconds: float | None = None

    @classmethod
    def from_section(
        cls,
        section: Any,
        *,
        max_length: int,
        seed: int,
        alpha: float = 0.0,
        temperature: float = 2.0,
        precision: str = "fp32",
        name: str = "",
        **extra: Any,
    ) -> LoopSettings:
        """The settings of a training config section (teacher, distill, finetune_amp,
        prune.block_movement): its epochs, batch size, learning rate, weight decay, warm-up and
        patience; the KD weight and temperature (alpha 0 = plain CE) and the precision from the
        step; `max_length` is the tokenizer's own length (slimnlp.models.max_length_of). `name` is the
        section's key (resource errors name its keys); its `budget_minutes`, where it has one, bounds
        the estimated training time."""
        budget = getattr(section, "budget_minutes", None)
        return cls(
            epochs=section.epochs,
            batch_size=section.batch_size,
            learning_rate=section.learning_rate,
            weight_decay=section.weight_decay,
            warmup_ratio=section.warmup_ratio,
            patience=section.patience,
            alpha=alpha,
            temperature=temperature,
            precision=precision,
            max_length=max_length,
            seed=seed,
            section=name,
            budget_seconds=None if budget is None else budget * 60,
            **extra,
        )


def _optimizer(model: nn.Module, settings: LoopSettings, total_steps: int):
    decay, no_decay, scores = [], [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        if name.endswith("mask_scores"):
            scores.append(param)
        else:
            (no_decay if param.ndim < 2 or "LayerNorm" in name else decay).append(param)
    groups = [
        {"params": decay, "weight_decay": settings.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    if scores:
        score_lr = settings.score_learning_rate or settings.learning_rate
        groups.append({"params": scores, "weight_decay": 0.0, "lr": score_lr})
    optimizer = torch.optim.AdamW(groups, lr=settings.learning_rate)
    warmup = max(1, int(total_steps * settings.warmup_ratio))

    def schedule(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup))

    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)


@dataclass
class _Optimisation:
    """What one optimisation step needs, built once per training run."""

    optimizer: torch.optim.Optimizer
    scheduler: Any
    scaler: torch.amp.GradScaler
    autocast_dtype: torch.dtype | None
    device: str
    settings: LoopSettings

    def step(
        self, model: nn.Module, batch: dict[str, torch.Tensor], y, t_logits, weight: float = 1.0
    ) -> torch.Tensor:
        """One optimisation step; `weight` scales this process's loss (its share of a DDP batch)."""
        with torch.autocast(
            device_type=self.device.split(":")[0],
            dtype=self.autocast_dtype,
            enabled=self.autocast_dtype is not None,
        ):
            logits = model(**batch).logits
        s = self.settings
        loss = combined_loss(logits.float(), y, t_logits, s.alpha, s.temperature)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss * weight).backward()
        self.scaler.unscale_(self.optimizer)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        return loss


@dataclass
class _BestCheckpoint:
    """Early stopping on dev macro-F1: keeps the best epoch's weights, counts epochs without a gain."""

    patience: int
    best: dict[str, Any] = field(default_factory=lambda: {"macro_f1": -1.0})
    state: dict[str, Any] | None = None
    stale: int = 0

    def should_stop(self, model: nn.Module, epoch: int, dev_metrics: dict[str, Any]) -> bool:
        if dev_metrics["macro_f1"] > self.best["macro_f1"]:
            self.best = {
                "macro_f1": dev_metrics["macro_f1"],
                "accuracy": dev_metrics["accuracy"],
                "epoch": epoch,
            }
            self.state = copy.deepcopy(model.state_dict())
            self.stale = 0
            return False
        self.stale += 1
        return self.stale >= self.patience

    def restore(self, model: nn.Module) -> None:
        if self.state is not None:  # else no epoch was eligible: keep the last weights
            model.load_state_dict(self.state)


def train_classifier(
    model: nn.Module,
    tokenizer: Any,
    train: tuple[list[str], list[int]],
    dev: tuple[list[str], list[int]],
    settings: LoopSettings,
    teacher_logits: torch.Tensor | None = None,
    on_epoch: Callable[[int, dict[str, float]], None] | None = None,
    progress: bool = True,
    device: str | None = None,
    on_step: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Train in place; the model ends holding its best-dev-macro-F1 weights. Returns the history.

    `teacher_logits` are precomputed on the training texts (same order): the teacher runs once,
    not once per epoch. `on_step(step, total_steps)` runs before every training forward pass (a
    pruning schedule sets its kept fraction there).
    """
    from tqdm.auto import tqdm

    job = distributed.processes()
    device = distributed.device_for(job, device or default_device())
    seed_everything(settings.seed)
    model.to(device)
    trained = distributed.wrap(model, job)  # DDP averages gradients over processes (else the model)
    progress = progress and job.main
    ids = token_ids(tokenizer, train[0], settings.max_length)  # read from the cache for a prepared split
    labels = label_tensor(train[1])  # a prepared split's ids stay in a mapped file
    _check_resources(model, ids, settings, progress)
    total_steps = max(1, math.ceil(len(ids) / settings.batch_size) * settings.epochs)
    optimizer, scheduler = _optimizer(model, settings, total_steps)
    use_cuda_amp = settings.precision == "fp16" and device.startswith("cuda")
    optimisation = _Optimisation(
        optimizer,
        scheduler,
        torch.amp.GradScaler("cuda", enabled=use_cuda_amp),
        {"fp16": torch.float16, "bf16": torch.bfloat16}.get(settings.precision),
        device,
        settings,
    )
    generator = torch.Generator().manual_seed(settings.seed)
    checkpoint, history, step = _BestCheckpoint(settings.patience), [], 0
    for epoch in range(1, settings.epochs + 1):
        model.train()
        # A tensor in a mapped file, sliced per batch: a list of every row index would cost ~36 bytes a row.
        order = epoch_order(len(ids), generator)
        total_loss = 0.0
        bar = tqdm(
            range(0, len(order), settings.batch_size),
            desc=f"epoch {epoch}/{settings.epochs}",
            disable=None if progress else True,
            leave=False,
        )
        for start in bar:
            rows, weight = distributed.shard(order[start : start + settings.batch_size].tolist(), job)
            batch = collate(take(ids, rows), pad_id_of(tokenizer), device)
            t_logits = teacher_logits[rows].to(device) if teacher_logits is not None else None
            if on_step is not None:
                on_step(step, total_steps)
            step += 1
            loss = optimisation.step(trained, batch, labels[rows].to(device), t_logits, weight)
            total_loss += loss.item() * len(rows) * (weight > 0)
            bar.set_postfix(loss=f"{loss.item():.3f}")
        train_loss = distributed.sum_over_processes(total_loss, job) / len(ids)
        record = distributed.broadcast(
            _epoch_record(model, tokenizer, dev, settings, epoch, train_loss, progress) if job.main else None,
            job,
        )
        history.append(record)
        if on_epoch and job.main:
            on_epoch(epoch, record)
        dev_metrics = {"macro_f1": record["dev_macro_f1"], "accuracy": record["dev_accuracy"]}
        if epoch >= settings.first_eligible_epoch and checkpoint.should_stop(model, epoch, dev_metrics):
            break
    checkpoint.restore(model)
    model.eval()
    best = checkpoint.best
    return {
        "history": history,
        "best_epoch": best.get("epoch", 0),
        "best_dev_macro_f1": best["macro_f1"],
        "best_dev_accuracy": best.get("accuracy", 0.0),
        "epochs_run": len(history),
        "precision": settings.precision,
    }


def _check_resources(model: nn.Module, ids: Any, settings: LoopSettings, progress: bool) -> None:
    """Print the estimated time and memory of this training on this machine; fail before the first
    step when it cannot fit in memory or in the section's `budget_minutes` (`slimnlp.mlops.resources`)."""
    from slimnlp.mlops import resources

    total, longest = length_stats(ids)
    mean_tokens = float(total) / max(1, len(ids))
    estimate = resources.estimate_training(
        model, len(ids), mean_tokens, settings.epochs, settings.batch_size, longest
    )
    if progress:
        print(f"  estimated: {estimate.describe()}", flush=True)
    resources.check_affordable(estimate, settings.section, settings.budget_seconds)


def _epoch_record(
    model, tokenizer, dev, settings: LoopSettings, epoch: int, train_loss: float, progress: bool
):
    """Score the epoch on dev and print one line."""
    dev_metrics = evaluate(model, tokenizer, dev[0], dev[1], settings.max_length)
    record = {
        "epoch": epoch,
        "train_loss": train_loss,
        "dev_accuracy": dev_metrics["accuracy"],
        "dev_macro_f1": dev_metrics["macro_f1"],
    }
    if progress:
        print(
            f"  epoch {epoch}: loss {record['train_loss']:.4f}  dev acc {record['dev_accuracy']:.4f}"
            f"  dev macro-F1 {record['dev_macro_f1']:.4f}",
            flush=True,
        )
    return record
