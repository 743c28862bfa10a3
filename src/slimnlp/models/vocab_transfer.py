"""Fast vocabulary transfer (FVT): give a trained model a smaller, in-domain vocabulary.

    new_tokenizer = train_in_domain_tokenizer(tokenizer, train_texts, vocab_size=4000)
    report = transfer_vocabulary(model, tokenizer, new_tokenizer, train_texts)

In these small models the embedding matrix is most of the parameters, so the vocabulary is the
first lever on size; an in-domain vocabulary also splits the task's words into fewer pieces. Each
new token's embedding comes from the old model: copied when the old vocabulary has the token, else
the mean of the old embeddings of the pieces the OLD tokenizer splits it into (the `##` marker
stripped), else (an empty split) the old unknown token's row, never NaN. An optional short masked-LM
adaptation (`slimnlp.pretrain.mlm.run_mlm`) lets the body get used to the new pieces before fine-tuning
(Gee et al., "Fast Vocabulary Transfer for Language Model Compression", EMNLP 2022 industry track).
"""

from __future__ import annotations

from functools import partial
from typing import Any

import torch
from torch import nn

from slimnlp import models
from slimnlp.pretrain.mlm import MlmSettings, run_mlm
from slimnlp.pretrain.run import check_vocabulary_size, encode_texts
from slimnlp.runtime.inputs import text_batches
from slimnlp.runtime.timing import interleaved_rounds, median
from slimnlp.runtime.torch import TorchRunner

SUBWORD_PREFIX = "##"
SPECIAL_ROLES = ("pad_token", "unk_token", "cls_token", "sep_token", "mask_token", "bos_token", "eos_token")


class VocabTransferError(ValueError):
    """Vocabulary transfer cannot run on this model or text; the message says why."""


# --------------------------------------------------------------------------------------------------
# Tokenizer and embeddings


def train_in_domain_tokenizer(old_tokenizer: Any, texts: list[str], vocab_size: int) -> Any:
    """A tokenizer of the same kind (normaliser, pre-tokeniser, specials) with a vocabulary learned on `texts`."""
    if not texts:
        raise VocabTransferError("vocabulary transfer needs training text; the training split is empty")
    new = _train_like(old_tokenizer, texts, vocab_size)
    check_vocabulary_size(new, vocab_size, f"the training text ({len(texts):,} texts)", "vocab_transfer")
    new.model_max_length = old_tokenizer.model_max_length
    return new


def _train_like(old_tokenizer: Any, texts: list[str], vocab_size: int) -> Any:
    """`train_new_from_iterator`, except that a WordPiece vocabulary is learned so that the same
    text and size give the same vocabulary on every run (`slimnlp.models.wordpiece`)."""
    import copy
    import json

    from slimnlp.models.wordpiece import train_wordpiece_backend

    backend = old_tokenizer.backend_tokenizer
    if json.loads(backend.to_str())["model"]["type"] != "WordPiece":
        return old_tokenizer.train_new_from_iterator(texts, vocab_size)
    added = backend.get_added_tokens_decoder()
    specials = [added[i].content for i in sorted(added) if added[i].special]
    new = copy.deepcopy(old_tokenizer)
    # transformers itself sets `_tokenizer` on a tokenizer whose class builds its own backend.
    new._tokenizer = train_wordpiece_backend(backend, texts, vocab_size, specials)
    return new


def _special_map(old_tokenizer: Any, new_tokenizer: Any) -> dict[str, int]:
    """New special token string -> old id of the token with the same role ([CLS] -> <s>, ...)."""
    mapping = {}
    for role in SPECIAL_ROLES:
        new_token, old_token = getattr(new_tokenizer, role, None), getattr(old_tokenizer, role, None)
        if new_token is not None and old_token is not None:
            old_id = old_tokenizer.convert_tokens_to_ids(str(old_token))
            if old_id is not None:
                mapping[str(new_token)] = old_id
    return mapping


def new_embedding_matrix(
    old_embeddings: torch.Tensor, old_tokenizer: Any, new_tokenizer: Any
) -> tuple[torch.Tensor, dict[str, int]]:
    """Rows for the new vocabulary from the old embedding matrix; returns (matrix, counts by origin)."""
    old_vocab = old_tokenizer.get_vocab()
    specials = _special_map(old_tokenizer, new_tokenizer)
    new_vocab = sorted(new_tokenizer.get_vocab().items(), key=lambda item: item[1])
    fallback_id = old_tokenizer.unk_token_id
    fallback = old_embeddings[fallback_id] if fallback_id is not None else old_embeddings.mean(0)
    matrix = torch.empty((len(new_vocab), old_embeddings.shape[1]), dtype=old_embeddings.dtype)
    counts = {"copied": 0, "special": 0, "composed": 0, "fallback": 0}
    to_compose: list[tuple[int, str]] = []
    for token, new_id in new_vocab:
        if token in specials:
            matrix[new_id], counts["special"] = old_embeddings[specials[token]], counts["special"] + 1
        elif token in old_vocab:
            matrix[new_id], counts["copied"] = old_embeddings[old_vocab[token]], counts["copied"] + 1
        else:
            to_compose.append((new_id, token.removeprefix(SUBWORD_PREFIX)))
    # One batched call: the old tokenizer splits every new piece at once.
    pieces = (
        old_tokenizer([p for _, p in to_compose], add_special_tokens=False)["input_ids"] if to_compose else []
    )
    for (new_id, _), old_ids in zip(to_compose, pieces, strict=True):
        if old_ids:
            matrix[new_id], counts["composed"] = old_embeddings[old_ids].mean(0), counts["composed"] + 1
        else:
            matrix[new_id], counts["fallback"] = fallback, counts["fallback"] + 1
    return matrix, counts


def average_tokens(tokenizer: Any, texts: list[str]) -> float:
    """Mean tokens per text, special tokens excluded."""
    if not texts:
        return 0.0
    ids = tokenizer(list(texts), add_special_tokens=False, verbose=False)["input_ids"]  # a split's texts too
    return sum(len(x) for x in ids) / len(ids)


def transfer_vocabulary(
    model: nn.Module, old_tokenizer: Any, new_tokenizer: Any, texts: list[str]
) -> dict[str, Any]:
    """Swap the model's input (and tied output) embeddings for the new vocabulary, in place.

    Returns:
        A report: vocabulary sizes, parameters before/after, average tokens per text before/after
        (on `texts`), and how many rows were copied, composed or fell back to [UNK].
    """
    before = models.count_parameters(model)
    old = model.get_input_embeddings().weight.detach().float().cpu().clone()
    if old.shape[0] < len(old_tokenizer):
        raise VocabTransferError(
            f"the model has {old.shape[0]} embedding rows but its tokenizer {len(old_tokenizer)} tokens: "
            "pass the tokenizer the model was trained with"
        )
    matrix, counts = new_embedding_matrix(old, old_tokenizer, new_tokenizer)
    model.resize_token_embeddings(len(new_tokenizer), mean_resizing=False)
    embeddings = model.get_input_embeddings().weight
    with torch.no_grad():
        embeddings.copy_(matrix.to(embeddings.device, embeddings.dtype))
    model.config.pad_token_id = new_tokenizer.pad_token_id
    after = models.count_parameters(model)
    return {
        "vocab_before": len(old_tokenizer),
        "vocab_after": len(new_tokenizer),
        "rows_copied": counts["copied"] + counts["special"],
        "rows_composed": counts["composed"],
        "rows_fallback": counts["fallback"],
        "params_total_before": before["total"],
        "params_total_after": after["total"],
        "params_embeddings_before": before["embeddings"],
        "params_embeddings_after": after["embeddings"],
        "avg_tokens_before": average_tokens(old_tokenizer, texts),
        "avg_tokens_after": average_tokens(new_tokenizer, texts),
    }


# --------------------------------------------------------------------------------------------------
# Masked-LM adaptation and the step option


def adapt_mlm(model: nn.Module, tokenizer: Any, texts: list[str], steps: int, *, batch_size: int = 32,
              learning_rate: float = 1e-4, max_length: int = 64, seed: int = 13) -> dict[str, Any]:  # fmt: skip
    """A short masked-LM run on `texts` that updates the encoder (and embeddings) of a classifier in place.

    An MLM head is built around a copy of the classifier's encoder (pruned shapes included), trained,
    and its encoder weights are copied back; the classifier head is untouched.
    """
    from transformers import AutoModelForMaskedLM

    prefix = model.base_model_prefix
    mlm_model = AutoModelForMaskedLM.from_config(model.config)
    models.apply_layout(mlm_model, models.model_layout(model))
    getattr(mlm_model, prefix).load_state_dict(getattr(model, prefix).state_dict(), strict=False)
    mlm_model.tie_weights()
    settings = MlmSettings(max_steps=steps, batch_size=batch_size, learning_rate=learning_rate,
                           log_every=max(1, steps // 10), eval_every=steps + 1, checkpoint_every=0, seed=seed)  # fmt: skip
    result = run_mlm(mlm_model, tokenizer, encode_texts(tokenizer, texts, max_length), [], settings, None)
    getattr(model, prefix).load_state_dict(getattr(mlm_model, prefix).cpu().state_dict(), strict=False)
    return {"mlm_steps": result["steps"], "mlm_final_loss": result["final_train_loss"]}


def apply_vocab_transfer(
    model: nn.Module, tokenizer: Any, texts: list[str], vocab_size: int, *, mlm_steps: int = 0,
    max_length: int = 64, seed: int = 13,
) -> tuple[nn.Module, Any, dict[str, Any]]:  # fmt: skip
    """What the teacher and distill steps call: new tokenizer, embeddings, optional MLM adaptation."""
    from slimnlp.data.corpus import check_tokenizer_covers

    check_tokenizer_covers(tokenizer, texts, "the training text")
    new_tokenizer = train_in_domain_tokenizer(tokenizer, texts, vocab_size)
    new_tokenizer.model_max_length = max_length
    report = transfer_vocabulary(model, tokenizer, new_tokenizer, texts)
    if mlm_steps:
        report.update(adapt_mlm(model, new_tokenizer, texts, mlm_steps, max_length=max_length, seed=seed))
    print(
        f"vocab-transfer: vocabulary {report['vocab_before']:,} -> {report['vocab_after']:,}, parameters "
        f"{report['params_total_before']:,} -> {report['params_total_after']:,}, tokens per text "
        f"{report['avg_tokens_before']:.1f} -> {report['avg_tokens_after']:.1f} ({report['rows_copied']} rows "
        f"copied, {report['rows_composed']} composed, {report['rows_fallback']} [UNK])",
        flush=True,
    )
    return model, new_tokenizer, {f"fvt_{k}": v for k, v in report.items()}


# --------------------------------------------------------------------------------------------------
# Measuring what it bought


def batch_latency_ms(
    variants: list[tuple[nn.Module, Any]],
    texts: list[str],
    max_length: int,
    batch_size: int = 32,
    rounds: int = 7,
) -> list[float]:
    """Median milliseconds per batch of real texts (padded per batch, so fewer tokens per text show
    here) for each (model, tokenizer), on up to 8 batches; one warm-up pass, then rounds that
    interleave the variants so load spikes hit all alike (`slimnlp.runtime.timing`)."""
    runners = [TorchRunner(model, tokenizer, max_length) for model, tokenizer in variants]
    batches = text_batches(texts[: batch_size * 8], batch_size)
    calls = {
        str(i): partial(_run_batches, runner, [runner.encode(b) for b in batches])
        for i, runner in enumerate(runners)
    }
    times = interleaved_rounds(calls, rounds=rounds, iterations=1, warmup=1)
    return [median(times[str(i)]) / len(batches) for i in range(len(runners))]


def _run_batches(runner: TorchRunner, feeds: list[dict[str, Any]]) -> None:
    for feed in feeds:
        runner.run(feed)


def _scores(
    model: nn.Module, tokenizer: Any, test: tuple[list[str], list[int]], max_length: int
) -> dict[str, Any]:
    from slimnlp.training.batches import evaluate

    model = model.cpu().float().eval()
    scores = evaluate(model, tokenizer, test[0], test[1], max_length)
    params = models.count_parameters(model)
    return {
        "test_accuracy": scores["accuracy"],
        "test_macro_f1": scores["macro_f1"],
        "params_total": params["total"],
        "params_embeddings": params["embeddings"],
        "vocab_size": len(tokenizer),
        "avg_tokens_per_text": average_tokens(tokenizer, test[0]),
    }


def compare_vocab_transfer(
    cfg: Any, data_dir: str, model_dir: str, out_dir: str, vocab_size: int, *, mlm_steps: int = 0,
    parent_run_id: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """FVT a fine-tuned classifier to `vocab_size`, fine-tune it again with the teacher settings, and
    compare it with the original on the test set: accuracy, parameters, tokens per text, latency.

    out_dir becomes the transferred model's directory, with fvt_report.json and fvt_report.md.
    """
    import json
    from pathlib import Path

    from slimnlp.data import read_label_map, read_split
    from slimnlp.mlops import tracking
    from slimnlp.training.loop import LoopSettings, train_classifier

    t = cfg.teacher
    out = Path(out_dir)
    with tracking.step_run(cfg, "vocab-transfer", parent_run_id, params={"vocab_size": vocab_size}) as run:
        train, dev, test = (read_split(data_dir, s) for s in ("train", "dev", "test"))
        id2label = read_label_map(data_dir)
        torch.set_num_threads(cfg.benchmark.threads)
        model, tokenizer = models.load_model_dir(model_dir)
        original = _scores(model, tokenizer, test, t.max_length)
        model, new_tokenizer, report = apply_vocab_transfer(
            model,
            tokenizer,
            train[0],
            vocab_size,
            mlm_steps=mlm_steps,
            max_length=t.max_length,
            seed=cfg.seed,
        )
        settings = LoopSettings(epochs=t.epochs, batch_size=t.batch_size, learning_rate=t.learning_rate,
                                weight_decay=t.weight_decay, warmup_ratio=t.warmup_ratio, patience=t.patience,
                                max_length=t.max_length, seed=cfg.seed)  # fmt: skip
        history = train_classifier(model, new_tokenizer, train, dev, settings)
        transferred = _scores(model, new_tokenizer, test, t.max_length)
        before, _ = models.load_model_dir(model_dir)
        variants = [(before, tokenizer), (model, new_tokenizer)]
        original["latency_b32_ms"], transferred["latency_b32_ms"] = batch_latency_ms(
            variants, test[0], t.max_length
        )
        models.save_model_dir(model, new_tokenizer, out)
        result = {
            "original": original,
            "transferred": transferred,
            "fvt": report,
            "best_epoch": history.get("best_epoch"),
        }
        (out / "fvt_report.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
        (out / "fvt_report.md").write_text(_markdown(original, transferred, id2label), encoding="utf-8")
        metrics = {f"original.{k}": v for k, v in original.items()}
        metrics.update({f"transferred.{k}": v for k, v in transferred.items()})
        models.write_metrics(out, {**metrics, **report})
        run.log_metrics(metrics)
        run.log_artifact(out / "fvt_report.md")
        return result


def _markdown(original: dict[str, Any], transferred: dict[str, Any], id2label: dict[int, str]) -> str:
    rows = [
        ("vocabulary", "vocab_size", "{:,}"),
        ("embedding parameters", "params_embeddings", "{:,}"),
        ("total parameters", "params_total", "{:,}"),
        ("tokens per test text", "avg_tokens_per_text", "{:.2f}"),
        ("test accuracy", "test_accuracy", "{:.4f}"),
        ("test macro-F1", "test_macro_f1", "{:.4f}"),
        ("latency, batch 32 (ms)", "latency_b32_ms", "{:.1f}"),
    ]
    lines = [f"# Fast vocabulary transfer ({len(id2label)} labels)", "",
             "| | original vocabulary | transferred | ratio |", "|---|---|---|---|"]  # fmt: skip
    for label, key, fmt in rows:
        a, b = original[key], transferred[key]
        lines.append(f"| {label} | {fmt.format(a)} | {fmt.format(b)} | {b / a if a else float('nan'):.3f} |")
    return "\n".join(lines) + "\n"
