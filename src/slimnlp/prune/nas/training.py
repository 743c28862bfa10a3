"""Super-network training: the sandwich rule with in-place distillation (Yu et al. 2019, Klein et al.).

    history = train_supernet(model, tokenizer, train, dev, space, section, max_length=48, seed=13,
                             teacher_logits=logits, on_eval=log)

Each step trains the largest sub-network on the labels (and the teacher), then the smallest and
`random_subnets` random ones on the largest's logits of the same batch (or the teacher's), all
gradients summed into one optimizer step: the small sub-networks learn to work alone while sharing
the big one's weights. The step or wall-time budget ends training, whichever comes first.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from slimnlp.prune.nas.config import NasConfig
from slimnlp.prune.nas.space import SearchSpace, SubNetwork
from slimnlp.prune.nas.supernet import active
from slimnlp.training.batches import collate, encode, evaluate, pad_id_of
from slimnlp.training.losses import combined_loss


@dataclass
class SandwichStep:
    """What one step trained: the sub-networks in order (largest first) and each one's loss."""

    archs: list[SubNetwork]
    losses: list[float]


def sandwich_gradients(
    model: nn.Module,
    batch: dict[str, torch.Tensor],
    labels: torch.Tensor,
    archs: list[SubNetwork],
    section: NasConfig,
    teacher_logits: torch.Tensor | None = None,
) -> SandwichStep:
    """Accumulate (backward) the gradients of every sub-network in `archs` on one batch; archs[0] is
    the largest, whose logits are the others' distillation source unless distill_from is teacher."""
    losses = []
    with active(model, archs[0]):
        largest = model(**batch).logits
    loss = combined_loss(largest, labels, teacher_logits, section.alpha, section.temperature)
    loss.backward()
    losses.append(float(loss.detach()))
    source = teacher_logits if section.distill_from == "teacher" else largest.detach()
    for arch in archs[1:]:
        with active(model, arch):
            logits = model(**batch).logits
        loss = combined_loss(logits, labels, source, section.alpha, section.temperature)
        loss.backward()
        losses.append(float(loss.detach()))
    return SandwichStep(archs=list(archs), losses=losses)


def sandwich_archs(space: SearchSpace, rng: random.Random, k: int) -> list[SubNetwork]:
    """The sandwich: the largest, the smallest and k random sub-networks."""
    return [space.largest(), space.smallest()] + [space.sample(rng) for _ in range(k)]


# --------------------------------------------------------------------------------------------------
# The training run


@dataclass
class SupernetHistory:
    steps: int = 0
    seconds: float = 0.0
    stopped_by: str = "steps"
    records: list[dict[str, float]] = field(default_factory=list)


def _optimizer(model: nn.Module, section: NasConfig, total_steps: int):
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "LayerNorm" not in n]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2 or "LayerNorm" in n]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": section.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=section.learning_rate,
    )
    warmup = max(1, int(total_steps * section.warmup_ratio))

    def schedule(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup))

    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)


def _dev_record(model, tokenizer, dev, max_length: int, space: SearchSpace) -> dict[str, float]:
    record = {}
    for name, arch in (("largest", space.largest()), ("smallest", space.smallest())):
        with active(model, arch):
            record[f"supernet_dev_accuracy_{name}"] = evaluate(model, tokenizer, dev[0], dev[1], max_length)[
                "accuracy"
            ]
    return record


def train_supernet(
    model: nn.Module,
    tokenizer: Any,
    train: tuple[list[str], list[int]],
    dev: tuple[list[str], list[int]],
    space: SearchSpace,
    section: NasConfig,
    *,
    max_length: int,
    seed: int,
    teacher_logits: torch.Tensor | None = None,
    on_eval: Callable[[int, dict[str, float]], None] | None = None,
    progress: bool = True,
) -> SupernetHistory:
    """Train the super-network in place for `section.steps` steps or `section.max_minutes`."""
    from tqdm.auto import tqdm

    history = SupernetHistory()
    if section.steps == 0:
        return history
    device = next(model.parameters()).device.type
    ids = encode(tokenizer, train[0], max_length)
    labels = torch.tensor(train[1], dtype=torch.long)
    generator = torch.Generator().manual_seed(seed)
    rng = random.Random(seed)
    optimizer, scheduler = _optimizer(model, section, section.steps)
    per_epoch = max(1, math.ceil(len(ids) / section.batch_size))
    deadline = time.monotonic() + section.max_minutes * 60 if section.max_minutes else math.inf
    start = time.monotonic()
    order: list[int] = []
    model.train()
    bar = tqdm(total=section.steps, desc="nas super-network", disable=not progress)
    for step in range(1, section.steps + 1):
        if step % per_epoch == 1 or not order:
            order = torch.randperm(len(ids), generator=generator).tolist()
        chunk = order[((step - 1) % per_epoch) * section.batch_size :][: section.batch_size]
        batch = collate([ids[i] for i in chunk], pad_id_of(tokenizer), device)
        t_logits = teacher_logits[chunk].to(device) if teacher_logits is not None else None
        optimizer.zero_grad(set_to_none=True)
        done = sandwich_gradients(
            model,
            batch,
            labels[chunk].to(device),
            sandwich_archs(space, rng, section.random_subnets),
            section,
            t_logits,
        )
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        bar.update(1)
        bar.set_postfix(largest=f"{done.losses[0]:.3f}", smallest=f"{done.losses[1]:.3f}")
        history.steps = step
        if step % section.eval_every == 0 or step == section.steps or time.monotonic() > deadline:
            record = {"supernet_loss_largest": done.losses[0], "supernet_loss_smallest": done.losses[1]}
            record |= _dev_record(model, tokenizer, dev, max_length, space)
            model.train()
            history.records.append({"step": step, **record})
            if on_eval:
                on_eval(step, record)
        if time.monotonic() > deadline:
            history.stopped_by = "max_minutes"
            break
    bar.close()
    model.eval()
    history.seconds = time.monotonic() - start
    return history
