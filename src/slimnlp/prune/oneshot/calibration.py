"""The calibration texts every one-shot pruner shares: read, sample, check, describe.

    calibration = load_calibration(config.calibration, train_texts, tokenizer, seed=13, max_length=48)
    calibration.texts, calibration.report   # report: sources, script mix, [UNK] rate, tokens

A source is 'train' (the task's training texts, labels unused), a .txt/.csv file, a directory of them
or an s3:// URI (`slimnlp.data.corpus` reads them). Several sources share the samples equally. A
source that is empty, unreadable, mostly in another script than the task, or mostly [UNK] to the
model's tokenizer stops the run with an error naming it: it would calibrate nothing.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import torch

from slimnlp.config import CalibrationConfig
from slimnlp.data.corpus import CorpusError, dominant_script, read_corpus, script_of, unknown_rate
from slimnlp.training.batches import collate, encode, pad_id_of

TRAIN = "train"


class CalibrationError(ValueError):
    """A calibration source is unusable; the message names the source (prune.calibration.sources)."""


@dataclass
class Calibration:
    """The sampled texts, their token batches (dynamic padding) and what the run records about them."""

    texts: list[str]
    batches: list[dict[str, torch.Tensor]]
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def tokens(self) -> int:
        """Real (non-padding) tokens over all batches."""
        return int(sum(int(b["attention_mask"].sum()) for b in self.batches))


def script_mix(texts: list[str]) -> dict[str, float]:
    """Share of letters per Unicode script (DEVANAGARI, LATIN, ...), largest first."""
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(s for s in map(script_of, text) if s)
    total = sum(counts.values())
    return {script: round(n / total, 4) for script, n in counts.most_common()} if total else {}


def _read_source(source: str, train_texts: list[str], text_column: str) -> list[str]:
    if source == TRAIN:
        texts = [t for t in train_texts if t.strip()]
        if not texts:
            raise CalibrationError("calibration source 'train': the training split holds no text")
        return texts
    try:
        return read_corpus([source], text_column=text_column)
    except CorpusError as err:
        raise CalibrationError(f"calibration source {source!r} (prune.calibration.sources): {err}") from None


def _check_source(source: str, texts: list[str], train_texts: list[str], tokenizer: Any, cfg) -> float:
    """The source's [UNK] rate; raises when its script or tokens do not fit the model."""
    script, _ = dominant_script(texts)
    if script is None:
        raise CalibrationError(f"calibration source {source!r} holds no letters; name a text source")
    expected, _ = dominant_script(train_texts) if train_texts else (None, 0.0)
    if expected and script != expected:
        raise CalibrationError(
            f"calibration source {source!r} is mostly {script} script but the task's text is {expected}: "
            f"the model cannot read it; calibrate on {expected} text (e.g. 'train')"
        )
    rate = unknown_rate(tokenizer, texts)
    if rate > cfg.max_unknown:
        raise CalibrationError(
            f"the tokenizer maps {rate:.0%} of the tokens of calibration source {source!r} ({script} "
            f"script) to [UNK] (prune.calibration.max_unknown is {cfg.max_unknown:.0%}): the model "
            "mostly cannot read it; use text the model's vocabulary covers"
        )
    return rate


def _shares(samples: int, sources: int) -> list[int]:
    base = [samples // sources] * sources
    for i in range(samples - sum(base)):
        base[i] += 1
    return base


def load_calibration(
    cfg: CalibrationConfig,
    train_texts: list[str],
    tokenizer: Any,
    *,
    seed: int,
    max_length: int,
    device: str = "cpu",
) -> Calibration:
    """Sample `cfg.samples` texts from `cfg.sources` (equal shares), check them, tokenise them."""
    rng = random.Random(seed)
    texts: list[str] = []
    per_source = []
    for source, share in zip(cfg.sources, _shares(cfg.samples, len(cfg.sources)), strict=True):
        available = _read_source(source, train_texts, cfg.text_column)
        rate = _check_source(source, available, train_texts, tokenizer, cfg)
        chosen = rng.sample(available, min(share, len(available)))
        texts += chosen
        per_source.append(
            {"source": source, "available": len(available), "samples": len(chosen), "unk_rate": rate}
        )
    length = cfg.max_length or max_length
    ids = encode(tokenizer, texts, length)
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))  # similar lengths: little padding
    batches = [
        collate([ids[i] for i in order[start : start + cfg.batch_size]], pad_id_of(tokenizer), device)
        for start in range(0, len(order), cfg.batch_size)
    ]
    calibration = Calibration(texts=texts, batches=batches)
    calibration.report = {
        "sources": list(cfg.sources),
        "per_source": per_source,
        "samples": len(texts),
        "max_length": length,
        "tokens": calibration.tokens,
        "script_mix": script_mix(texts),
        "unk_rate": unknown_rate(tokenizer, texts),
    }
    return calibration
