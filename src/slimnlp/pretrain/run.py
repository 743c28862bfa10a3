"""`pretrain-mlm` from a run config: corpus + task text -> tokenizer -> masked-LM BERT, cached by hash.

    work_dir = cache_root / cache_key(cfg.pretrain, corpus_hash(files), task_texts, cfg.seed)
    model_dir, metrics = pretrain(cfg.pretrain, corpus_texts, task_texts, work_dir, cfg.seed)

The work dir holds the tokenizer, the rolling checkpoint and, once finished, `model/`: the directory
train-teacher loads as `teacher.checkpoint`. Its name is a hash of everything that changes the result,
so a scheduled retrain with the same corpus and config reuses it, and an interrupted one resumes.
The masked-LM loop itself (checkpoints, resume, AMP) is `slimnlp.pretrain.mlm.run_mlm`.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from torch import nn

from slimnlp.pretrain.mlm import CHECKPOINT_DIR, MlmSettings, PretrainError, run_mlm
from slimnlp.training import distributed

# --------------------------------------------------------------------------------------------------
# Tokenizer and model


def train_tokenizer(texts: list[str], vocab_size: int, max_length: int):
    """A Devanagari-safe WordPiece (`models.train_wordpiece`) that reached the asked size."""
    from slimnlp.models import train_wordpiece

    tokenizer = train_wordpiece(texts, vocab_size, max_length)
    check_vocabulary_size(tokenizer, vocab_size, f"{len(texts):,} texts", "pretrain.vocab_size")
    return tokenizer


def check_vocabulary_size(tokenizer: Any, requested: int, what: str, key: str) -> None:
    """Raise when the trainer stopped short of `requested`: the text has no more distinct pieces."""
    if len(tokenizer) < requested:
        raise PretrainError(
            f"{key}={requested} is larger than {what} supports: WordPiece training found only "
            f"{len(tokenizer):,} distinct tokens; set {key} <= {len(tokenizer)} or add text"
        )


def build_mlm_model(tokenizer: Any, p: Any) -> nn.Module:
    """A BertForMaskedLM with the shape of the config's `pretrain` section."""
    from transformers import BertConfig, BertForMaskedLM

    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=p.hidden_size,
        num_hidden_layers=p.num_layers,
        num_attention_heads=p.num_heads,
        intermediate_size=p.intermediate_size,
        max_position_embeddings=max(512, p.max_length),
        hidden_dropout_prob=p.dropout,
        attention_probs_dropout_prob=p.dropout,
        pad_token_id=tokenizer.pad_token_id,
    )
    return BertForMaskedLM(config)


def encode_texts(tokenizer: Any, texts: list[str], max_length: int) -> list[list[int]]:
    """Token ids per text with [CLS]/[SEP], truncated; batches are padded per batch (dynamic padding)."""
    from tqdm.auto import tqdm

    ids: list[list[int]] = []
    chunk = 10_000
    for start in tqdm(range(0, len(texts), chunk), desc="tokenize", unit="chunk", disable=len(texts) < chunk):
        ids.extend(
            tokenizer(texts[start : start + chunk], truncation=True, max_length=max_length)["input_ids"]
        )
    return ids


def pack_sentences(ids: list[list[int]], max_length: int) -> list[list[int]]:
    """Concatenate consecutive encoded sentences into sequences of at most `max_length` tokens.

    Each input is `[CLS] tokens [SEP]`; a pack is `[CLS] a [SEP] b [SEP] ...`: the first sentence's
    [CLS] starts it and every sentence keeps its [SEP]. A sentence that does not fit starts the next
    pack; none is split, so every non-empty sentence is in exactly one pack (RoBERTa's FULL-SENTENCES
    without crossing the length). On a corpus of ~15-token sentences this gives ~4 sentences per
    sequence and no padding inside a batch.
    """
    packs: list[list[int]] = []
    current: list[int] = []
    for sentence in ids:
        if len(sentence) <= 2:
            continue  # [CLS] [SEP] alone: an empty text, nothing to learn from
        if current and len(current) + len(sentence) - 1 > max_length:
            packs.append(current)
            current = []
        current = list(sentence) if not current else current + list(sentence[1:])
    if current:
        packs.append(current)
    return packs


# --------------------------------------------------------------------------------------------------
# From a run config: held-out split, tokenizer, loop, final model directory

FINAL_DIR = "model"
# Settings that change the trained model; logging and checkpoint cadence do not.
NOT_IN_CACHE_KEY = ("enabled", "cache_dir", "log_every", "eval_every", "checkpoint_every", "corpus")


def cache_key(p: Any, corpus_digest: str, task_texts: list[str], seed: int) -> str:
    """What names a pretraining run: the corpus bytes, the task text, the `pretrain` section, the seed."""
    import dataclasses
    import hashlib
    import json

    settings = {k: v for k, v in dataclasses.asdict(p).items() if k not in NOT_IN_CACHE_KEY}
    task = hashlib.sha256("\n".join(task_texts).encode()).hexdigest() if p.include_task_text else ""
    blob = json.dumps(
        {"settings": settings, "corpus": corpus_digest, "task": task, "seed": seed}, sort_keys=True
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def pretrain(
    p: Any,
    corpus_texts: list[str],
    task_texts: list[str],
    work_dir: str | Path,
    seed: int,
    *,
    on_log: Callable[[int, dict[str, float]], None] | None = None,
) -> tuple[Path, dict[str, Any]]:
    """Tokenizer + masked-LM pretraining in `work_dir` (resumable); returns the final model dir and metrics.

    A work dir that already holds a finished model is returned as it is (`cached: true`).
    """
    import json
    import random

    from slimnlp.data.corpus import check_same_script

    work = Path(work_dir)
    final = work / FINAL_DIR
    if (final / "metrics.json").is_file():
        return final, {**json.loads((final / "metrics.json").read_text(encoding="utf-8")), "cached": True}
    work.mkdir(parents=True, exist_ok=True)
    if corpus_texts and task_texts:
        check_same_script(corpus_texts, task_texts, "the pretraining corpus", "the task's training text")
    # 1. Held-out sentences come from the corpus (the task text all goes to training).
    heldout_pool = list(corpus_texts or task_texts)
    random.Random(seed).shuffle(heldout_pool)
    n_eval = min(p.eval_sentences, len(heldout_pool) // 10)
    eval_texts, corpus_train = heldout_pool[:n_eval], heldout_pool[n_eval:]
    train_texts = corpus_train + (task_texts if (p.include_task_text and corpus_texts) else [])
    # 2. The tokenizer is trained once and kept, so a resumed run keeps the same vocabulary.
    from transformers import AutoTokenizer

    # Under torchrun rank 0 trains and saves it, the others load what it saved.
    job = distributed.processes()
    if not (work / "tokenizer" / "tokenizer.json").is_file() and job.main:
        train_tokenizer(train_texts, p.vocab_size, p.max_length).save_pretrained(work / "tokenizer")
    distributed.barrier(job)
    tokenizer = AutoTokenizer.from_pretrained(work / "tokenizer")
    # 3. Encode and train.
    train_ids = encode_texts(tokenizer, train_texts, p.max_length)
    eval_ids = encode_texts(tokenizer, eval_texts, p.max_length)
    n_sentences = len(train_ids)
    if p.pack_sentences:
        train_ids = pack_sentences(train_ids, p.max_length)
    model = build_mlm_model(tokenizer, p)
    packed = f" in {len(train_ids):,} packed sequences" if p.pack_sentences else ""
    print(
        f"pretrain-mlm: {sum(x.numel() for x in model.parameters()):,} parameters, vocabulary "
        f"{len(tokenizer):,}, {n_sentences:,} training sentences{packed} / {len(eval_ids):,} held-out",
        flush=True,
    )
    result = run_mlm(
        model, tokenizer, train_ids, eval_ids, MlmSettings.from_config(p, seed), work, on_log=on_log
    )
    if not job.main:  # rank 0 writes the model directory
        distributed.barrier(job)
        return final, {**result, "cached": False}
    # 4. The final model directory: what train-teacher loads as teacher.checkpoint, with the dropout
    # fine-tuning should use (pretraining may have run without).
    model.config.hidden_dropout_prob = model.config.attention_probs_dropout_prob = p.finetune_dropout
    model.cpu().save_pretrained(final)
    tokenizer.save_pretrained(final)
    history = result.pop("history")
    metrics = {**result, "train_sentences": n_sentences, "train_sequences": len(train_ids),
               "heldout_sentences": len(eval_ids),
               "vocab_size": len(tokenizer), "params_total": sum(x.numel() for x in model.parameters())}  # fmt: skip
    (final / "history.json").write_text(json.dumps(history, indent=1), encoding="utf-8")
    plot_history(history, final / "pretrain_curves.png")
    (final / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True), encoding="utf-8")
    # Finished: the optimizer state (2x the weights) is no longer needed; a bigger budget is a new key.
    shutil.rmtree(work / CHECKPOINT_DIR, ignore_errors=True)
    distributed.barrier(job)
    return final, {**metrics, "cached": False}


def plot_history(history: list[dict[str, Any]], path: Path) -> Path:
    """Training loss and held-out perplexity against steps, side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.5))
    for axis, key, label in (
        (left, "train_loss", "MLM train loss"),
        (right, "heldout_perplexity", "held-out perplexity"),
    ):
        points = [(r["step"], r[key]) for r in history if key in r]
        if points:
            axis.plot(*zip(*points, strict=True), marker="." if len(points) < 50 else None)
        axis.set_xlabel("step")
        axis.set_title(label)
        axis.grid(alpha=0.3)
    right.set_yscale("log")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
