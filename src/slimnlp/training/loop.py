"""One training loop for teacher fine-tuning, distillation, movement pruning and mixed-precision fine-tuning.

What differs between those steps is configuration, not code: the loss is
`alpha * KD(teacher_logits, T) + (1 - alpha) * CE`, the precision is fp32/fp16/bf16, and early
stopping keeps the best dev macro-F1 checkpoint.
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from slimnlp.training.batches import collate, encode, evaluate, pad_id_of
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

    device = device or default_device()
    seed_everything(settings.seed)
    model.to(device)
    texts, labels = train
    ids = encode(tokenizer, texts, settings.max_length)
    label_tensor = torch.tensor(labels, dtype=torch.long)
    steps_per_epoch = math.ceil(len(ids) / settings.batch_size)
    total_steps = max(1, steps_per_epoch * settings.epochs)
    optimizer, scheduler = _optimizer(model, settings, total_steps)
    step = 0
    use_cuda_amp = settings.precision == "fp16" and device.startswith("cuda")
    scaler = torch.amp.GradScaler("cuda", enabled=use_cuda_amp)
    autocast_dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(settings.precision)
    generator = torch.Generator().manual_seed(settings.seed)

    best: dict[str, Any] = {"macro_f1": -1.0}
    best_state = copy.deepcopy(model.state_dict())
    history, stale = [], 0
    for epoch in range(1, settings.epochs + 1):
        model.train()
        order = torch.randperm(len(ids), generator=generator).tolist()
        total_loss = 0.0
        bar = tqdm(
            range(0, len(order), settings.batch_size),
            desc=f"epoch {epoch}/{settings.epochs}",
            disable=None if progress else True,
            leave=False,
        )
        for start in bar:
            chunk = order[start : start + settings.batch_size]
            batch = collate([ids[i] for i in chunk], pad_id_of(tokenizer), device)
            y = label_tensor[chunk].to(device)
            t_logits = teacher_logits[chunk].to(device) if teacher_logits is not None else None
            if on_step is not None:
                on_step(step, total_steps)
            step += 1
            with torch.autocast(
                device_type=device.split(":")[0], dtype=autocast_dtype, enabled=autocast_dtype is not None
            ):
                logits = model(**batch).logits
            loss = combined_loss(logits.float(), y, t_logits, settings.alpha, settings.temperature)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            total_loss += loss.item() * len(chunk)
            bar.set_postfix(loss=f"{loss.item():.3f}")
        dev_metrics = evaluate(model, tokenizer, dev[0], dev[1], settings.max_length)
        record = {
            "epoch": epoch,
            "train_loss": total_loss / len(ids),
            "dev_accuracy": dev_metrics["accuracy"],
            "dev_macro_f1": dev_metrics["macro_f1"],
        }
        history.append(record)
        if progress:
            print(
                f"  epoch {epoch}: loss {record['train_loss']:.4f}  dev acc {record['dev_accuracy']:.4f}"
                f"  dev macro-F1 {record['dev_macro_f1']:.4f}",
                flush=True,
            )
        if on_epoch:
            on_epoch(epoch, record)
        if epoch < settings.first_eligible_epoch:
            continue
        if dev_metrics["macro_f1"] > best["macro_f1"]:
            best = {"macro_f1": dev_metrics["macro_f1"], "accuracy": dev_metrics["accuracy"], "epoch": epoch}
            best_state = copy.deepcopy(model.state_dict())
            stale = 0
        else:
            stale += 1
            if stale >= settings.patience:
                break
    if "epoch" in best:  # else no epoch was eligible: keep the last weights
        model.load_state_dict(best_state)
    model.eval()
    return {
        "history": history,
        "best_epoch": best.get("epoch", 0),
        "best_dev_macro_f1": best["macro_f1"],
        "best_dev_accuracy": best.get("accuracy", 0.0),
        "epochs_run": len(history),
        "precision": settings.precision,
    }
