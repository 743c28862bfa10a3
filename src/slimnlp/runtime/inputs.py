"""Texts into model inputs: batches of texts, and one batch tokenised the way every runtime feeds it.

    from slimnlp.runtime.inputs import text_batches, tokenize
    for batch in text_batches(texts, 32):
        feed = tokenize(tokenizer, batch, max_length=128, tensors="np", names=["input_ids", "attention_mask"])

Two paddings, for two questions: without `pad_to` a batch is padded to its longest text and cut at
`max_length` (as in serving: what quality is measured on); with `pad_to` every text is padded or cut
to exactly that many tokens (what latency is measured on, so every model sees the same shape).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def text_batches(texts: list[str], batch_size: int) -> list[list[str]]:
    """`texts` in consecutive batches of `batch_size` (the last one may be shorter)."""
    return [list(texts[i : i + batch_size]) for i in range(0, len(texts), batch_size)]


def tokenize(
    tokenizer: Any,
    texts: list[str],
    max_length: int,
    pad_to: int | None = None,
    tensors: str = "np",
    names: list[str] | None = None,
) -> dict[str, Any]:
    """One batch of texts as model inputs.

    Args:
        tokenizer: A Hugging Face tokenizer.
        texts: The batch.
        max_length: Texts are truncated to this many tokens (padding to the longest text).
        pad_to: Pad or truncate every text to exactly this many tokens instead.
        tensors: "np" (int64 arrays, for ONNX Runtime) or "pt" (torch tensors, for PyTorch).
        names: With "np", the inputs to keep, in order (an ONNX graph's input names); default all.

    Returns:
        {input name: array or tensor}.
    """
    padding, length = ("max_length", pad_to) if pad_to else (True, max_length)
    enc = tokenizer(list(texts), padding=padding, truncation=True, max_length=length, return_tensors=tensors)
    if tensors == "pt":
        return dict(enc)
    return {name: enc[name].astype(np.int64) for name in (names or list(enc))}
