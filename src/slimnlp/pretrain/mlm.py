"""In-domain masked-LM pretraining of a small BERT, with checkpoints that survive interruptions.

    slimnlp pretrain-mlm --corpus ../shared/data/corpus/marathi.txt --data runs/shc/data --out runs/mlm

Where no model hub is reachable, a teacher pretrained for half an hour on in-domain text beats one
trained from scratch by about ten points (issue 7). The loop here is the longest job in the project,
so it checkpoints model, optimizer, scheduler, gradient scaler, RNG and step every few hundred steps
(atomically: a kill mid-save leaves the previous checkpoint), and a rerun with the same work dir
resumes where the last checkpoint left off. A resumed run takes the same steps on the same batches
with the same masks as an uninterrupted one. The same loop does the short adaptation after fast
vocabulary transfer (`slimnlp.models.vocab_transfer`).

Under `torchrun` the loop is data-parallel (`slimnlp.training.distributed`): every process draws the
same batch with the same masks and trains on its rows, each loss weighted by its share of the
masked tokens, so N processes take the step one process would (dropout aside); rank 0 alone writes
checkpoints and logs, and every process resumes from rank 0's checkpoint.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from slimnlp.mlops.interrupt import sigterm_as_interrupt
from slimnlp.pretrain.checkpoint import (
    ARCHITECTURE_KEYS,
    CHECKPOINT_DIR,
    STATE_FILE,
    PretrainError,
    load_checkpoint,
    save_checkpoint,
)
from slimnlp.training import distributed


@dataclass(frozen=True)
class MlmSettings:
    """The loop's knobs; `from_config` maps the run config's `pretrain` section onto them."""

    max_steps: int
    batch_size: int = 64
    learning_rate: float = 5e-4
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    mlm_probability: float = 0.15
    max_minutes: float | None = None
    eval_every: int = 500
    log_every: int = 50
    checkpoint_every: int = 500  # 0 = never (short adaptation runs)
    precision: str = "auto"
    seed: int = 13

    @classmethod
    def from_config(cls, p: Any, seed: int) -> MlmSettings:
        names = [f for f in cls.__dataclass_fields__ if f != "seed"]
        return cls(**{name: getattr(p, name) for name in names}, seed=seed)


# --------------------------------------------------------------------------------------------------
# Schedule


__all__ = [
    "ARCHITECTURE_KEYS",
    "CHECKPOINT_DIR",
    "STATE_FILE",
    "PretrainError",
    "load_checkpoint",
    "save_checkpoint",
]


class WarmupLinearDecay:
    """Learning-rate factor: linear warm-up, then linear decay to 0 at the end of the budget.

    Progress is the larger of steps used and wall time used, so a wall-time budget also ends at a
    learning rate of 0. LambdaLR saves this object's attributes, so `elapsed_s` survives a resume.
    """

    def __init__(self, max_steps: int, warmup_ratio: float, budget_s: float | None) -> None:
        self.max_steps = max_steps
        self.warmup_ratio = warmup_ratio
        self.budget_s = budget_s
        self.elapsed_s = 0.0

    def progress(self, step: int) -> float:
        by_time = self.elapsed_s / self.budget_s if self.budget_s else 0.0
        return min(1.0, max(step / self.max_steps, by_time))

    def __call__(self, step: int) -> float:
        progress = self.progress(step)
        if self.warmup_ratio > 0 and progress < self.warmup_ratio:
            return progress / self.warmup_ratio
        return max(0.0, (1.0 - progress) / (1.0 - self.warmup_ratio))


# --------------------------------------------------------------------------------------------------
# The loop


def _optimizer(model: nn.Module, s: MlmSettings) -> torch.optim.Optimizer:
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if param.requires_grad:
            (no_decay if param.ndim < 2 or "LayerNorm" in name else decay).append(param)
    groups = [{"params": decay, "weight_decay": s.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=s.learning_rate)


def _batch_order(lengths: torch.Tensor, batch_size: int, epoch: int, seed: int) -> list[torch.Tensor]:
    """Shuffled batches of sentences of similar length (less padding: ~group_by_length in HF).

    Seeded by epoch, so a resumed run draws the same batches without saving a sampler.
    """
    generator = torch.Generator().manual_seed(seed * 100_003 + epoch)
    order = torch.randperm(len(lengths), generator=generator)
    batches: list[torch.Tensor] = []
    pool = batch_size * 50  # sort within pools of 50 batches: similar lengths, still random content
    for start in range(0, len(order), pool):
        chunk = order[start : start + pool]
        batches.extend(chunk[torch.argsort(lengths[chunk], stable=True)].split(batch_size))
    return [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]


def _eval_batches(collator: Any, ids: list[list[int]], batch_size: int, seed: int) -> list[dict]:
    # Masked once with a fixed seed: every evaluation scores the same masks, and the training RNG
    # is left untouched (a resumed run must not see a different stream).
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return [
            collator([{"input_ids": x} for x in ids[i : i + batch_size]])
            for i in range(0, len(ids), batch_size)
        ]


def mlm_collator(tokenizer: Any, probability: float = 0.15, seed: int | None = None) -> Any:
    """BERT's dynamic masking: `probability` of the tokens get a label; of those 80% become [MASK],
    10% a random token and 10% stay; batches are padded to their longest sentence."""
    from transformers import DataCollatorForLanguageModeling

    return DataCollatorForLanguageModeling(
        tokenizer, mlm_probability=probability, mask_replace_prob=0.8, random_replace_prob=0.1, seed=seed
    )


def mlm_loss(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Masked-token cross-entropy, with the vocabulary projection applied to masked positions only.

    The projection onto a 16k vocabulary is most of a small BERT's MLM compute; only ~15% of the
    positions carry a label, so projecting just those is ~6x cheaper and gives the same loss.
    """
    head = getattr(model, "cls", None)
    base = getattr(model, getattr(model, "base_model_prefix", ""), None)
    if head is None or base is None:
        return model(**batch).loss
    labels = batch["labels"]
    hidden = base(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])[0]
    masked = labels != -100
    logits = head(hidden[masked])
    return torch.nn.functional.cross_entropy(logits.float(), labels[masked])


class MaskedLmObjective(nn.Module):
    """`mlm_loss` as a module's forward, so DDP sees the forward pass it synchronises gradients of."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        if not bool((batch["labels"] != -100).any()):
            # A shard without a masked token still runs the whole model (DDP reduces every
            # gradient), at loss 0 instead of the NaN of an empty mean.
            labels = batch["labels"].clone()
            labels[:, 0] = batch["input_ids"][:, 0]
            return mlm_loss(self.model, {**batch, "labels": labels}) * 0.0
        return mlm_loss(self.model, batch)


def shard_batch(batch: dict[str, torch.Tensor], job: distributed.Processes) -> tuple[dict, float]:
    """This process's rows of a collated batch and its loss weight: its share of the batch's masked
    tokens times the world size (so the average over processes is the whole batch's mean loss)."""
    if not job.distributed:
        return batch, 1.0
    rows, share = distributed.shard(list(range(len(batch["input_ids"]))), job)
    mine = {k: v[rows] for k, v in batch.items()}
    total, masked = int((batch["labels"] != -100).sum()), int((mine["labels"] != -100).sum())
    return mine, (masked * job.world_size / total if share and total else 0.0)


@torch.no_grad()
def heldout_loss(model: nn.Module, batches: list[dict], device: str) -> float:
    """Mean masked-token cross-entropy over held-out batches (perplexity = exp of it)."""
    model.eval()
    total, count = 0.0, 0
    for batch in batches:
        batch = {k: v.to(device) for k, v in batch.items()}
        n = int((batch["labels"] != -100).sum())
        if n:
            total += float(mlm_loss(model, batch)) * n
            count += n
    model.train()
    return total / count if count else float("nan")


# One function on purpose (~150 lines): the step loop, the phase it is in and the RNG state taken at
# each step are what an interruption (Ctrl-C, SIGTERM of an evicted pod) must save together for a
# resumed run to continue bit-identically (tests/pretrain/test_mlm.py); split, they would travel as shared state.
def run_mlm(
    model: nn.Module,
    tokenizer: Any,
    train_ids: list[list[int]],
    eval_ids: list[list[int]],
    s: MlmSettings,
    work_dir: str | Path | None,
    *,
    on_log: Callable[[int, dict[str, float]], None] | None = None,
    on_step: Callable[[int], None] | None = None,
    device: str | None = None,
    resume: bool = True,
) -> dict[str, Any]:
    """Masked-LM training for the step or wall-time budget; resumes from `work_dir/checkpoint`.

    Args:
        model: A `*ForMaskedLM` model; trained in place.
        tokenizer: Its tokenizer (padding and [MASK] come from it).
        train_ids: Token ids per training sentence.
        eval_ids: Token ids per held-out sentence (perplexity); may be empty.
        s: Budget, optimiser and logging settings.
        work_dir: Where checkpoints go; None = no checkpoints (short adaptation runs).
        on_log: Called with (step, record) for each train-loss and held-out record.
        on_step: Called after every completed step (tests interrupt here).
        device: Default: CUDA when available.
        resume: Continue from an existing checkpoint in `work_dir`.

    Returns:
        step, tokens_seen, elapsed_s, the last train loss and held-out perplexity, and the history.
    """
    from tqdm.auto import tqdm

    from slimnlp.training.device import default_device

    if not train_ids:
        raise PretrainError("no training sentences for masked-LM pretraining")
    job = distributed.processes()
    device = distributed.device_for(job, device or default_device())
    fp16 = device.startswith("cuda") and s.precision in ("auto", "fp16")
    model.to(device).train()
    objective = distributed.wrap(MaskedLmObjective(model), job)
    optimizer = _optimizer(model, s)
    schedule = WarmupLinearDecay(s.max_steps, s.warmup_ratio, s.max_minutes * 60 if s.max_minutes else None)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    scaler = torch.amp.GradScaler("cuda", enabled=fp16)
    collator = mlm_collator(tokenizer, s.mlm_probability)
    state: dict[str, Any] = {"step": 0, "elapsed_s": 0.0, "tokens_seen": 0, "history": []}
    work = Path(work_dir) if work_dir is not None else None
    saved = load_checkpoint(work, model) if (work is not None and resume) else None
    if saved is not None:
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        scaler.load_state_dict(saved["scaler"])
        torch.set_rng_state(saved["rng_cpu"])
        if fp16 and saved.get("rng_cuda") is not None:
            torch.cuda.set_rng_state(saved["rng_cuda"])
        state = {k: saved[k] for k in state}
        print(f"pretrain-mlm: resumed from {work / CHECKPOINT_DIR} at step {state['step']}", flush=True)
    else:
        torch.manual_seed(s.seed)
    eval_batches = _eval_batches(collator, eval_ids, s.batch_size, s.seed)
    steps_per_epoch = math.ceil(len(train_ids) / s.batch_size)
    lengths = torch.tensor([len(x) for x in train_ids])
    started, base_elapsed = time.perf_counter(), state["elapsed_s"]
    running, running_n, order, order_epoch = 0.0, 0, [], -1
    rng_at_step = torch.get_rng_state()

    def snapshot(rng: torch.Tensor) -> dict[str, Any]:
        return {
            **state,
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "scaler": scaler.state_dict(),
            "rng_cpu": rng,
            "rng_cuda": torch.cuda.get_rng_state() if fp16 else None,
        }

    def log(record: dict[str, float]) -> None:
        if "train_loss" in record:  # the mean over processes of the weighted losses: the batch's loss
            record["train_loss"] = distributed.sum_over_processes(record["train_loss"], job) / job.world_size
        state["history"].append({"step": state["step"], **record})
        if on_log is not None and job.main:
            on_log(state["step"], record)

    # With a wall-time budget the step total is only an upper bound: the description says so.
    desc = f"pretrain-mlm (stops at {s.max_minutes:g} min)" if s.max_minutes else "pretrain-mlm"
    bar = tqdm(
        total=s.max_steps, initial=state["step"], desc=desc, unit="step", mininterval=2, disable=not job.main
    )
    phase = "between"  # between steps | computing a step | updating weights
    with sigterm_as_interrupt():
        try:
            while state["step"] < s.max_steps and schedule.progress(state["step"]) < 1.0:
                epoch, position = divmod(state["step"], steps_per_epoch)
                if epoch != order_epoch:
                    order, order_epoch = _batch_order(lengths, s.batch_size, epoch, s.seed), epoch
                rng_at_step, phase = torch.get_rng_state(), "computing"
                batch = collator([{"input_ids": train_ids[i]} for i in order[position].tolist()])
                batch = {k: v.to(device) for k, v in batch.items()}
                mine, weight = shard_batch(batch, job)
                with distributed.step_rng(job, s.seed, state["step"], device):
                    with torch.autocast("cuda", dtype=torch.float16, enabled=fp16):
                        loss = objective(mine) * weight
                    scaler.scale(loss).backward()
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                phase = "updating"
                scaler.step(optimizer)
                scaler.update()
                optimizer.zero_grad(set_to_none=True)
                state["step"] += 1
                state["elapsed_s"] = base_elapsed + time.perf_counter() - started
                schedule.elapsed_s = state["elapsed_s"]
                scheduler.step()
                phase = "between"  # eval and checkpointing draw no random numbers
                state["tokens_seen"] += int(batch["attention_mask"].sum())
                running, running_n = running + float(loss.detach()), running_n + 1
                bar.update(1)
                step = state["step"]
                if step % s.log_every == 0:
                    log({"train_loss": running / running_n, "learning_rate": scheduler.get_last_lr()[0],
                         "tokens_seen": state["tokens_seen"]})  # fmt: skip
                    bar.set_postfix(loss=f"{running / running_n:.3f}")
                    running, running_n = 0.0, 0
                if eval_batches and step % s.eval_every == 0 and job.main:
                    _log_heldout(model, eval_batches, device, log)
                if work is not None and s.checkpoint_every and step % s.checkpoint_every == 0 and job.main:
                    save_checkpoint(work, model, snapshot(torch.get_rng_state()))
                if on_step is not None:
                    on_step(step)
        except KeyboardInterrupt:
            # Mid-update weights are half-changed: keep the last periodic checkpoint then.
            if work is not None and phase != "updating" and job.main:
                rng = torch.get_rng_state() if phase == "between" else rng_at_step
                saved_at = save_checkpoint(work, model, snapshot(rng))
                print(
                    f"\npretrain-mlm: interrupted; checkpoint at step {state['step']} in {saved_at}",
                    flush=True,
                )
            raise
        finally:
            bar.close()
    if running_n:
        log({"train_loss": running / running_n, "learning_rate": scheduler.get_last_lr()[0],
             "tokens_seen": state["tokens_seen"]})  # fmt: skip
    heldout = _log_heldout(model, eval_batches, device, log) if eval_batches and job.main else {}
    if work is not None and s.checkpoint_every and job.main:
        save_checkpoint(work, model, snapshot(torch.get_rng_state()))
    distributed.barrier(job)  # the others leave once rank 0's checkpoint is complete
    train_losses = [r["train_loss"] for r in state["history"] if "train_loss" in r]
    return {
        "steps": state["step"],
        "tokens_seen": state["tokens_seen"],
        "train_seconds": round(state["elapsed_s"], 1),
        "final_train_loss": train_losses[-1] if train_losses else None,
        **heldout,
        "precision": "fp16" if fp16 else "fp32",
        "device": device,
        "history": state["history"],
    }


def _log_heldout(model: nn.Module, batches: list[dict], device: str, log: Callable) -> dict[str, float]:
    loss = heldout_loss(model, batches, device)
    record = {"heldout_loss": loss, "heldout_perplexity": math.exp(min(loss, 50.0))}
    log(record)
    return record
