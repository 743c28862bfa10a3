"""One training loop for teacher fine-tuning, distillation and mixed-precision fine-tuning.

What differs between those steps is configuration, not code: the loss is
`alpha * KD(teacher_logits, T) + (1 - alpha) * CE`, the precision is fp32/fp16/bf16, and early
stopping keeps the best dev macro-F1 checkpoint.
"""

from __future__ import annotations

import copy
import logging
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

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


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def resolve_precision(requested: str, device: str) -> tuple[str, str]:
    """The precision to train in and why; fp16 needs CUDA, and bf16 on CPUs without AMX is slower."""
    if requested == "auto":
        if device.startswith("cuda"):
            return "fp16", "auto: CUDA device, fp16 autocast with gradient scaling"
        return "fp32", (
            "auto: CPU; bf16 autocast measured 1.4-1.5x slower than fp32 on CPUs without AMX, so fp32"
        )
    if requested == "fp16" and not device.startswith("cuda"):
        return "fp32", "fp16 requested but no CUDA device: fp16 autocast is CUDA-only, fell back to fp32"
    return requested, f"{requested} requested"


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


# --------------------------------------------------------------------------------------------------
# Losses


def kd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Hinton's KD: KL(softmax(t/T) || softmax(s/T)) * T^2; zero when student equals teacher."""
    t = temperature
    return F.kl_div(
        F.log_softmax(student_logits / t, dim=-1),
        F.log_softmax(teacher_logits / t, dim=-1),
        reduction="batchmean",
        log_target=True,
    ) * (t * t)


def combined_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    teacher_logits: torch.Tensor | None,
    alpha: float,
    temperature: float,
) -> torch.Tensor:
    ce = F.cross_entropy(logits, labels)
    if teacher_logits is None or alpha == 0:
        return ce
    return alpha * kd_loss(logits, teacher_logits, temperature) + (1 - alpha) * ce


# --------------------------------------------------------------------------------------------------
# Batching and inference


def encode(tokenizer: Any, texts: list[str], max_length: int) -> list[list[int]]:
    """Token ids per text, truncated; padding happens per batch (dynamic padding)."""
    return tokenizer(texts, truncation=True, max_length=max_length, padding=False)["input_ids"]


def collate(ids: list[list[int]], pad_id: int, device: str) -> dict[str, torch.Tensor]:
    width = max(len(x) for x in ids)
    input_ids = torch.full((len(ids), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(ids), width), dtype=torch.long)
    for row, seq in enumerate(ids):
        input_ids[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
        mask[row, : len(seq)] = 1
    return {"input_ids": input_ids.to(device), "attention_mask": mask.to(device)}


def pad_id_of(tokenizer: Any) -> int:
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0


@torch.no_grad()
def predict_logits(
    model: nn.Module,
    tokenizer: Any,
    texts: list[str],
    max_length: int,
    batch_size: int = 64,
    device: str | None = None,
) -> torch.Tensor:
    device = device or next(model.parameters()).device.type
    was_training = model.training
    model.eval()
    ids = encode(tokenizer, texts, max_length)
    # Sorting by length makes dynamic padding cheap; the order is restored at the end.
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    out = torch.empty((len(ids), model.config.num_labels))
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        batch = collate([ids[i] for i in chunk], pad_id_of(tokenizer), device)
        out[chunk] = model(**batch).logits.float().cpu()
    model.train(was_training)
    return out


def classification_metrics(
    predictions: list[int] | np.ndarray,
    labels: list[int] | np.ndarray,
    id2label: dict[int, str] | None = None,
) -> dict[str, Any]:
    from sklearn.metrics import accuracy_score, f1_score

    predictions, labels = np.asarray(predictions), np.asarray(labels)
    ids = sorted(id2label) if id2label else sorted(set(labels.tolist()))
    per_class = f1_score(labels, predictions, labels=ids, average=None, zero_division=0)
    names = [id2label[i] if id2label else str(i) for i in ids]
    return {
        "accuracy": float(accuracy_score(labels, predictions)),
        "macro_f1": float(f1_score(labels, predictions, labels=ids, average="macro", zero_division=0)),
        "per_class_f1": {n: float(v) for n, v in zip(names, per_class, strict=True)},
    }


def distinct_text_scores(
    texts: list[str], labels: list[int] | np.ndarray, predictions: np.ndarray
) -> dict[str, Any]:
    """Accuracy and macro-F1 with each distinct text counted once; {} when no text repeats.

    A test file kept as published (data.drop_duplicates=false) can repeat a text many times (MahaNews
    SHC repeats some headlines 18x). The plain score weighs those texts by their repeats, so a model
    that memorised them looks better than it generalises: both figures are reported.
    Keys: accuracy_distinct, macro_f1_distinct, distinct_texts.
    """
    first: dict[str, int] = {}
    for i, text in enumerate(texts):
        first.setdefault(text, i)
    if len(first) == len(texts):
        return {}
    keep = sorted(first.values())
    scores = classification_metrics(np.asarray(predictions)[keep], np.asarray(labels)[keep])
    return {
        "accuracy_distinct": scores["accuracy"],
        "macro_f1_distinct": scores["macro_f1"],
        "distinct_texts": len(keep),
    }


def evaluate(
    model: nn.Module,
    tokenizer: Any,
    texts: list[str],
    labels: list[int],
    max_length: int,
    id2label: dict[int, str] | None = None,
) -> dict[str, Any]:
    logits = predict_logits(model, tokenizer, texts, max_length)
    return classification_metrics(logits.argmax(-1).numpy(), labels, id2label)


# --------------------------------------------------------------------------------------------------
# The loop


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
