"""The zero-layer point of the NAS front: mean-pooled token embeddings + the classification head.

    pooled = train_pooled_point(teacher, tokenizer, train, dev, section, max_length=64, seed=13,
                                teacher_logits=logits)
    pooled.arch.key        # '-|-|-|-': no encoder layer kept
    pooled.model           # a model directory's worth: save_model_dir(pooled.model, tokenizer, out)

Below the one-layer floor of the search space lies no attention at all, where static-embedding
classifiers (Model2Vec) sit: a text is the average of its token vectors, then a linear head. This
point is that model built from the teacher: its token vectors start from what the teacher outputs
for each vocabulary token alone (Model2Vec's distillation; or from the teacher's input embeddings),
and the embeddings and head are trained by distillation from the teacher's logits on the training
texts. It is trained apart from the super-network: a head fed mean-pooled embeddings would pull the
shared head away from the attention sub-networks. On the front it is one more point, exported,
timed and scored like the others, so `fastest_within` picks it only when it holds the budget.
"""

from __future__ import annotations

import copy
import math
import random
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from slimnlp.models.remote_code import use_mean_pooling
from slimnlp.prune.nas.config import POOLED_INITS, NasConfig
from slimnlp.prune.nas.latency import LatencyTable
from slimnlp.prune.nas.search import Candidate
from slimnlp.prune.nas.space import SubNetwork
from slimnlp.prune.nas.supernet import slice_subnetwork
from slimnlp.training.batches import collate, encode, evaluate, pad_id_of
from slimnlp.training.losses import combined_loss


@dataclass
class PooledPoint:
    arch: SubNetwork
    model: nn.Module
    search_accuracy: float  # on the search rows, the epoch kept
    history: list[dict[str, float]] = field(default_factory=list)


def zero_layer_arch(num_layers: int) -> SubNetwork:
    return SubNetwork(((0, 0),) * num_layers)


@torch.no_grad()
def teacher_token_vectors(model: nn.Module, tokenizer: Any, batch_size: int = 512) -> torch.Tensor:
    """Per vocabulary token, the teacher's last hidden states for `[CLS] token [SEP]` averaged over
    the three positions (Model2Vec's distillation, without its PCA: the width stays the teacher's)."""
    vocab = model.get_input_embeddings().weight.shape[0]
    bos = tokenizer.cls_token_id if tokenizer.cls_token_id is not None else tokenizer.bos_token_id
    eos = tokenizer.sep_token_id if tokenizer.sep_token_id is not None else tokenizer.eos_token_id
    was_training = model.training
    model.eval()
    vectors = torch.empty(vocab, model.config.hidden_size)
    base = getattr(model, model.base_model_prefix)
    for start in range(0, vocab, batch_size):
        ids = torch.arange(start, min(start + batch_size, vocab)).unsqueeze(1)
        parts = [ids]
        if bos is not None:
            parts.insert(0, torch.full_like(ids, bos))
        if eos is not None:
            parts.append(torch.full_like(ids, eos))
        batch = torch.cat(parts, dim=1).to(next(model.parameters()).device)
        hidden = base(input_ids=batch, attention_mask=torch.ones_like(batch)).last_hidden_state
        vectors[start : start + len(ids)] = hidden.mean(1).float().cpu()
    model.train(was_training)
    return vectors


def pooled_model(teacher: nn.Module, tokenizer: Any, init: str) -> nn.Module:
    """A copy of the teacher with every encoder layer removed, predicting by mean pooling; its word
    embeddings are the teacher's output per token (`teacher-output`) or its input ones (`embeddings`)."""
    if init not in POOLED_INITS:
        raise ValueError(f"prune.nas.pooled_init must be one of {POOLED_INITS}, got {init!r}")
    vectors = teacher_token_vectors(teacher, tokenizer) if init == "teacher-output" else None
    num_layers = teacher.config.num_hidden_layers
    model = slice_subnetwork(copy.deepcopy(teacher).cpu().eval(), zero_layer_arch(num_layers))
    use_mean_pooling(model)
    if vectors is not None:
        embeddings = model.get_input_embeddings().weight
        with torch.no_grad():
            # Scaled to the input embeddings' norm, so the position embeddings keep their weight.
            scale = embeddings.norm(dim=1).mean() / vectors.norm(dim=1).mean().clamp(min=1e-6)
            embeddings.copy_(vectors * scale)
    return model


def train_pooled_point(
    teacher: nn.Module,
    tokenizer: Any,
    train: tuple[list[str], list[int]],
    dev: tuple[list[str], list[int]],
    section: NasConfig,
    *,
    max_length: int,
    seed: int,
    teacher_logits: torch.Tensor | None = None,
    progress: bool = True,
) -> PooledPoint:
    """Build the zero-layer model and train it (KD from `teacher_logits` + CE, section.alpha /
    temperature) for `section.pooled_epochs` epochs; the epoch with the best accuracy on `dev` (the
    search rows) is kept."""
    from tqdm.auto import tqdm

    torch.manual_seed(seed)
    model = pooled_model(teacher, tokenizer, section.pooled_init)
    arch = zero_layer_arch(teacher.config.num_hidden_layers)
    ids = encode(tokenizer, train[0], max_length)
    labels = torch.tensor(train[1], dtype=torch.long)
    optimizer = _adamw(model, section.pooled_learning_rate)
    per_epoch = max(1, math.ceil(len(ids) / section.batch_size))
    rng = random.Random(seed)
    best = (
        evaluate(model, tokenizer, dev[0], dev[1], max_length)["accuracy"],
        copy.deepcopy(model.state_dict()),
    )
    history = [{"epoch": 0, "search_accuracy": best[0]}]
    bar = tqdm(total=section.pooled_epochs * per_epoch, desc="nas zero-layer point", disable=not progress)
    for epoch in range(1, section.pooled_epochs + 1):
        model.train()
        order = list(range(len(ids)))
        rng.shuffle(order)
        for start in range(0, len(order), section.batch_size):
            chunk = order[start : start + section.batch_size]
            batch = collate([ids[i] for i in chunk], pad_id_of(tokenizer), "cpu")
            logits = model(**batch).logits
            source = teacher_logits[chunk].float() if teacher_logits is not None else None
            loss = combined_loss(logits, labels[chunk], source, section.alpha, section.temperature)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            bar.update(1)
            bar.set_postfix(loss=f"{float(loss.detach()):.3f}")
        accuracy = evaluate(model, tokenizer, dev[0], dev[1], max_length)["accuracy"]
        history.append({"epoch": epoch, "search_accuracy": accuracy})
        if accuracy > best[0]:
            best = (accuracy, copy.deepcopy(model.state_dict()))
    bar.close()
    model.load_state_dict(best[1])
    return PooledPoint(arch=arch, model=model.eval(), search_accuracy=best[0], history=history)


def _adamw(model: nn.Module, lr: float) -> torch.optim.Optimizer:
    """AdamW, fused where torch has the kernel: the step over the whole vocabulary's vectors is most
    of this model's training cost (on a 2-core CPU 5 ms fused against 50 ms unfused for 8,000 x 256)."""
    try:
        return torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0, fused=True)
    except (RuntimeError, ValueError):
        return torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)


def become_pooled(model: nn.Module, pooled: nn.Module) -> nn.Module:
    """Turn `model` (the super-network, in place) into the trained zero-layer model `pooled`."""
    slice_subnetwork(model, zero_layer_arch(len(getattr(model, model.base_model_prefix).encoder.layer)))
    use_mean_pooling(model)
    model.load_state_dict(pooled.state_dict())
    return model


def pooled_candidate(pooled: PooledPoint, table: LatencyTable, batch_size: int) -> Candidate:
    """The zero-layer point as a search candidate: its accuracy on the search rows, the table's fixed
    cost as its predicted latency (embeddings and head; the mean adds little), no encoder parameters."""
    return Candidate(
        arch=pooled.arch,
        accuracy=pooled.search_accuracy,
        latency_ms=table.predict(pooled.arch, batch_size),
        params=0,
    )
