"""Tokenise, pad and batch texts; predict logits and score a model on a split.

The texts of a prepared split (slimnlp.data.load_splits) are tokenised once per tokenizer and
length and read back from the Arrow cache after (slimnlp.data.tokenise); other texts are tokenised
in memory as before.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from slimnlp.data import spill
from slimnlp.data.tokenise import SplitLabels, TokenIds, cached_token_ids
from slimnlp.training.metrics import classification_metrics


def encode(tokenizer: Any, texts: list[str], max_length: int) -> list[list[int]]:
    """Token ids per text, truncated; padding happens per batch (dynamic padding)."""
    cached = cached_token_ids(tokenizer, texts, max_length)
    if cached is not None:
        return cached.tolist()
    texts = texts if isinstance(texts, list) else list(texts)  # tokenizers take lists, not sequences
    return tokenizer(texts, truncation=True, max_length=max_length, padding=False)["input_ids"]


def token_ids(tokenizer: Any, texts: list[str], max_length: int) -> Any:
    """Token ids per text: a memory-mapped TokenIds for a prepared split's texts, else a list;
    read rows with `take` and lengths with `lengths`."""
    cached = cached_token_ids(tokenizer, texts, max_length)
    return cached if cached is not None else encode(tokenizer, texts, max_length)


def take(ids: Any, rows: list[int]) -> list[list[int]]:
    return ids.take(rows) if isinstance(ids, TokenIds) else [ids[i] for i in rows]


def lengths(ids: Any) -> np.ndarray:
    return ids.lengths if isinstance(ids, TokenIds) else np.array([len(x) for x in ids], dtype=np.int64)


def length_stats(ids: Any) -> tuple[int, int]:
    """(total tokens, longest row) without an array of every row's length for a TokenIds."""
    if isinstance(ids, TokenIds):
        return ids.length_stats()
    tokens = lengths(ids)
    return int(tokens.sum()), int(tokens.max()) if len(tokens) else 0


def label_tensor(labels: Any) -> torch.Tensor:
    """Label ids as a tensor to index per batch: a prepared split's SplitLabels as a view of its
    compact mapped copy (nothing per row in the process's memory), any other list as a copy."""
    if isinstance(labels, SplitLabels):
        return torch.from_numpy(labels.ids())
    return torch.as_tensor(list(labels), dtype=torch.long)


def epoch_order(rows: int, generator: torch.Generator) -> torch.Tensor:
    """`torch.randperm(rows, generator=generator)`, the same order, written into a temporary file
    mapped into memory: 8 bytes a row that the kernel can write out and drop, so a training split of
    millions of rows adds nothing to the process's own memory. Sliced per batch."""
    order = torch.from_numpy(spill.temporary_array(rows, np.int64))
    return torch.randperm(rows, generator=generator, out=order)


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
    ids = token_ids(tokenizer, texts, max_length)
    # Sorting by length makes dynamic padding cheap; the order is restored at the end.
    order = np.argsort(lengths(ids), kind="stable")  # an array: a list would cost ~36 bytes a row
    out = torch.empty((len(ids), model.config.num_labels))
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size].tolist()
        batch = collate(take(ids, chunk), pad_id_of(tokenizer), device)
        out[chunk] = model(**batch).logits.float().cpu()
    model.train(was_training)
    return out


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
