"""The training steps: pretrain-mlm, train-teacher, distill and finetune-amp (one loop, four configs)."""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
from pathlib import Path
from typing import Any

from slimnlp import models
from slimnlp.config import RunConfig
from slimnlp.data import load_splits
from slimnlp.steps.common import (
    compute_teacher_logits,
    epoch_logger,
    finish_model_step,
    finish_step,
    loop_settings,
    step_body,
)
from slimnlp.training.device import default_device, resolve_precision, seed_everything
from slimnlp.training.loop import train_classifier


def pretrain_mlm(
    cfg: RunConfig,
    data_dir: str | Path | None,
    out_dir: str | Path,
    *,
    parent_run_id: str | None = None,
    corpus: list[str] | None = None,
) -> dict[str, Any]:
    """In-domain masked-LM pretraining (slimnlp.pretrain.run) on pretrain.corpus (or `corpus`) plus the
    task's training text; cached and resumable by a hash of both and the config. out_dir is a
    masked-LM model directory that train-teacher loads as its checkpoint."""
    from slimnlp.data.corpus import corpus_hash, read_corpus
    from slimnlp.pretrain.run import cache_key, pretrain

    p = cfg.pretrain
    with step_body(cfg, "pretrain-mlm", out_dir, parent_run_id) as (run, out):
        sources = list(corpus or p.corpus)
        cache_root = Path(p.cache_dir or Path(cfg.output_dir) / "pretrain-cache").expanduser().resolve()
        downloads = cache_root / "downloads"
        corpus_texts = read_corpus(sources, p.text_column, downloads) if sources else []
        # Each distinct text once (order kept): a file kept as published (data.drop_duplicates=false)
        # would otherwise weigh repeated texts in the tokenizer and the MLM, and change the cache key.
        task_texts = (
            list(dict.fromkeys(load_splits(data_dir)[0][0])) if data_dir and p.include_task_text else []
        )
        if not corpus_texts and not task_texts:
            raise ValueError(
                "pretrain-mlm has no text: set pretrain.corpus (--corpus PATH) or pass --data DIR"
            )
        key = cache_key(p, corpus_hash(sources, downloads) if sources else "", task_texts, cfg.seed)
        model_dir, metrics = pretrain(
            p, corpus_texts, task_texts, cache_root / key, cfg.seed,
            on_log=lambda step, record: run.log_metrics(record, step=step),
        )  # fmt: skip
        shutil.copytree(model_dir, out, dirs_exist_ok=True)
        print(f"pretrain-mlm: {'reused' if metrics['cached'] else 'wrote'} {cache_root / key}", flush=True)
        metrics.update(cache_key=key, cache_dir=str(cache_root / key), corpus_sentences=len(corpus_texts))
        return finish_step(run, out, metrics)


def _vocab_transfer(section: Any, cfg: RunConfig, model, tokenizer, texts: list[str]):
    """Fast vocabulary transfer when the section asks for it (teacher/distill.vocab_transfer)."""
    if not section.vocab_transfer:
        return model, tokenizer, {}
    from slimnlp.models.vocab_transfer import apply_vocab_transfer

    return apply_vocab_transfer(
        model, tokenizer, texts, section.vocab_transfer, mlm_steps=section.vocab_transfer_mlm_steps,
        max_length=models.max_length_of(tokenizer), seed=cfg.seed,
    )  # fmt: skip


def train_teacher(
    cfg: RunConfig,
    data_dir: str | Path,
    out_dir: str | Path,
    *,
    parent_run_id: str | None = None,
    pretrained_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Fine-tune a checkpoint (teacher.checkpoint, or the pretrain-mlm output `pretrained_dir`), or
    build a BERT from the config with a WordPiece tokenizer trained on the training text; optionally
    fast vocabulary transfer first (teacher.vocab_transfer). Early stopping on dev keeps the best
    epoch. out_dir is a model directory."""
    t = cfg.teacher
    if pretrained_dir:
        t = dataclasses.replace(t, checkpoint=str(pretrained_dir))
    with step_body(cfg, "train-teacher", out_dir, parent_run_id) as (run, out):
        train, dev, test, id2label = load_splits(data_dir)
        # The new weights (a model from config, a fresh head) come from the seed, not the RNG's history.
        seed_everything(cfg.seed)
        if t.checkpoint:
            model, tokenizer = models.load_checkpoint(t.checkpoint, id2label, out / ".cache")
            # Saved with the tokenizer, so export, benchmark and serving truncate as training did.
            tokenizer.model_max_length = t.max_length
            source = t.checkpoint
        else:
            tokenizer = models.train_wordpiece(train[0], t.vocab_size, t.max_length)
            model = models.build_bert(
                len(tokenizer),
                len(id2label),
                id2label,
                num_layers=t.num_layers,
                hidden_size=t.hidden_size,
                num_heads=t.num_heads,
                intermediate_size=t.intermediate_size,
                max_length=t.max_length,
                dropout=t.dropout,
                pad_token_id=tokenizer.pad_token_id,
            )
            source = "from-config"
        model, tokenizer, fvt = _vocab_transfer(t, cfg, model, tokenizer, train[0])
        print(
            f"train-teacher: {source}, {models.count_parameters(model)['total']:,} parameters, "
            f"{len(train[0])} training texts",
            flush=True,
        )
        history = train_classifier(
            model,
            tokenizer,
            train,
            dev,
            loop_settings(t, cfg, tokenizer, name="teacher"),
            on_epoch=epoch_logger(run),
        )
        shutil.rmtree(out / ".cache", ignore_errors=True)
        extra = {"source": source, **fvt, **history}
        return finish_model_step(run, out, model, tokenizer, test, id2label, extra)


@contextlib.contextmanager
def _zeros_kept_after(cfg: RunConfig, model: Any, record: dict[str, Any]):
    """Training after a pruner that zeroes weights inside dense matrices (magnitude, wanda,
    sparsegpt: `PruneMethod.keeps_zeros`) keeps those weights at zero, so the sparsity survives distill
    and finetune-amp; `record["zeros_kept"]` gets their count. Other methods train as before."""
    from slimnlp.prune.methods import prune_method

    if not prune_method(cfg.prune.method).keeps_zeros:
        yield
        return
    from slimnlp.prune.oneshot.recovery import zero_count, zeros_kept

    with zeros_kept(model) as frozen:
        yield
    record["zeros_kept"] = zero_count(model)
    if record["zeros_kept"] < frozen:  # a hook missed a matrix: fail loudly rather than ship it dense
        raise RuntimeError(f"training lost pruned zeros: {frozen} before, {record['zeros_kept']} after")


def distill(
    cfg: RunConfig,
    data_dir: str | Path,
    teacher_dir: str | Path,
    student_dir: str | Path,
    out_dir: str | Path,
    *,
    parent_run_id: str | None = None,
) -> dict[str, Any]:
    """Knowledge distillation (alpha * KD + (1 - alpha) * CE) from the teacher into the student
    (student=pruned), or into a shallower copy of it (student=layers); out_dir is a model directory."""
    d = cfg.distill
    with step_body(cfg, "distill", out_dir, parent_run_id) as (run, out):
        train, dev, test, id2label = load_splits(data_dir)
        # The student first: a bad student dir fails before the teacher has run.
        model, tokenizer = models.load_model_dir(student_dir)
        teacher_logits = compute_teacher_logits(teacher_dir, train[0])
        kept_layers = None
        if d.student == "layers":
            kept_layers = models.keep_layers(model, d.student_layers)
        model, tokenizer, fvt = _vocab_transfer(d, cfg, model, tokenizer, train[0])
        kept: dict[str, Any] = {}
        with _zeros_kept_after(cfg, model, kept):
            history = train_classifier(
                model,
                tokenizer,
                train,
                dev,
                loop_settings(d, cfg, tokenizer, alpha=d.alpha, temperature=d.temperature, name="distill"),
                teacher_logits=teacher_logits,
                on_epoch=epoch_logger(run),
            )
        return finish_model_step(
            run,
            out,
            model,
            tokenizer,
            test,
            id2label,
            {"kept_layers": kept_layers, **fvt, **history, **kept},
        )


def finetune_amp(
    cfg: RunConfig,
    data_dir: str | Path,
    teacher_dir: str | Path,
    student_dir: str | Path,
    out_dir: str | Path,
    *,
    parent_run_id: str | None = None,
) -> dict[str, Any]:
    """Mixed-precision fine-tune (fp16 + gradient scaling on CUDA; bf16 on CPU only when asked:
    fp32 is the CPU default); logs which precision ran and why. out_dir is a model directory."""
    a = cfg.finetune_amp
    device = default_device()
    precision, reason = resolve_precision(a.precision, device)
    with step_body(cfg, "finetune-amp", out_dir, parent_run_id) as (run, out):
        train, dev, test, id2label = load_splits(data_dir)
        run.client.set_tag(run.run_id, "slimnlp.precision", precision)
        run.client.set_tag(run.run_id, "slimnlp.precision_reason", reason)
        print(f"finetune-amp: precision {precision} on {device} ({reason})", flush=True)
        model, tokenizer = models.load_model_dir(student_dir)
        history: dict[str, Any] = {"epochs_run": 0}
        if a.epochs > 0:
            teacher_logits = compute_teacher_logits(teacher_dir, train[0]) if a.alpha > 0 else None
            with _zeros_kept_after(cfg, model, history):
                history.update(
                    train_classifier(
                        model,
                        tokenizer,
                        train,
                        dev,
                        loop_settings(
                            a,
                            cfg,
                            tokenizer,
                            alpha=a.alpha,
                            temperature=a.temperature,
                            precision=precision,
                            name="finetune_amp",
                        ),
                        teacher_logits=teacher_logits,
                        on_epoch=epoch_logger(run),
                        device=device,
                    )
                )
        return finish_model_step(
            run,
            out,
            model,
            tokenizer,
            test,
            id2label,
            {**history, "precision": precision, "precision_reason": reason, "device": device},
        )
