"""Tiny model directories for fast CPU tests.

    from tests.helpers_models import TINY_TEXTS, TINY_LABELS, TINY_ID2LABEL, build_tiny_model_dir
    teacher = build_tiny_model_dir(tmp_path / "teacher")
    student = build_tiny_model_dir(tmp_path / "student", kept_heads=[[0, 2, 3], [1]], kept_neurons=40)

A tiny BERT (2 layers, hidden 32, 4 heads) is built from a config with a WordPiece tokenizer trained
on a few Marathi sentences and saved as a slimnlp model directory. The same seed gives the same
starting weights, so a model built with `kept_heads`/`kept_neurons` is a structurally pruned copy of
the one built without them (uneven heads per layer, fewer parameters, mostly the same predictions).
The weights are spread wider than BERT's initialisation so logits are O(1): a parity check on
logits of size 0.01 would prove nothing.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

import torch

from slimnlp.models import (
    build_bert,
    encoder_layers,
    head_dim,
    keep_heads,
    keep_neurons,
    save_model_dir,
    train_wordpiece,
)

TINY_ID2LABEL = {0: "sports", 1: "business", 2: "entertainment"}

_SENTENCES = {
    0: [
        "भारताने क्रिकेट सामना जिंकला",
        "कर्णधाराने शतक झळकावले",
        "फुटबॉल स्पर्धेत पुण्याचा संघ अंतिम फेरीत",
        "कबड्डी संघाने सुवर्णपदक मिळवले",
        "गोलंदाजाने पाच बळी घेतले",
        "ऑलिंपिक खेळाडूंचा सत्कार झाला",
        "टेनिस सामन्यात चुरशीची लढत",
        "मुंबई संघाने मालिका जिंकली",
    ],
    1: [
        "शेअर बाजार आज घसरला",
        "रिझर्व्ह बँकेने व्याजदर वाढवले",
        "सोन्याचे भाव पुन्हा वाढले",
        "कंपनीचा नफा दुप्पट झाला",
        "नवीन कर धोरण जाहीर झाले",
        "रुपया डॉलरच्या तुलनेत कमजोर",
        "बँकेच्या कर्जात मोठी वाढ",
        "उद्योगपतींनी नवीन गुंतवणूक जाहीर केली",
    ],
    2: [
        "नवीन मराठी चित्रपट प्रदर्शित झाला",
        "अभिनेत्रीला पुरस्कार मिळाला",
        "नाटकाचा प्रयोग हाऊसफुल्ल",
        "गायकाचे नवीन गाणे लोकप्रिय",
        "मालिकेचा शेवटचा भाग प्रसारित",
        "दिग्दर्शकाने नव्या चित्रपटाची घोषणा केली",
        "संगीत महोत्सवाला मोठी गर्दी",
        "चित्रपटाने विक्रमी कमाई केली",
    ],
}

# Interleaved so that any prefix holds every label; lengths differ so padding is exercised.
TINY_TEXTS: list[str] = [_SENTENCES[label][i] for i in range(8) for label in (0, 1, 2)]
TINY_LABELS: list[int] = [label for _ in range(8) for label in (0, 1, 2)]


def tiny_tokenizer(token_type_ids: bool = False, max_length: int = 32):
    """A WordPiece tokenizer trained on the tiny texts; optionally one that also returns
    token_type_ids (as BERT tokenizers from the hub do)."""
    return train_wordpiece(TINY_TEXTS, vocab_size=300, max_length=max_length, token_type_ids=token_type_ids)


def build_tiny_model_dir(
    out_dir: str | Path,
    *,
    kept_heads: list[list[int]] | None = None,
    kept_neurons: int | None = None,
    token_type_ids: bool = False,
    seed: int = 0,
    spread: float = 0.3,
) -> Path:
    """Build, optionally prune, and save a tiny BERT classifier as a model directory.

    Args:
        out_dir: Directory to write (created).
        kept_heads: Per layer, the head indices to keep (e.g. [[0, 2, 3], [1]]); None keeps all 4.
        kept_neurons: FFN neurons kept in every layer (of 64); None keeps all.
        token_type_ids: Whether the tokenizer returns token_type_ids.
        seed: Seed of the weights; the same seed gives the same unpruned weights.
        spread: Std of the noise added to every weight so that logits are O(1).

    Returns:
        The model directory.
    """
    tokenizer = tiny_tokenizer(token_type_ids=token_type_ids)
    torch.manual_seed(seed)
    model = build_bert(
        tokenizer.vocab_size,
        len(TINY_ID2LABEL),
        TINY_ID2LABEL,
        num_layers=2,
        hidden_size=32,
        num_heads=4,
        intermediate_size=64,
        max_length=32,
        pad_token_id=tokenizer.pad_token_id,
    )
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn_like(param) * spread)
    layers = encoder_layers(model)
    for i, layer in enumerate(layers):
        if kept_heads is not None:
            keep_heads(layer, kept_heads[i], head_dim(model))
        if kept_neurons is not None:
            keep_neurons(layer, list(range(kept_neurons)))
    model.eval()
    return save_model_dir(model, tokenizer, out_dir, metrics={"accuracy": 0.5, "seed": seed})


# --------------------------------------------------------------------------------------------------
# One teacher and one pruned student, built and exported once per test session


TINY_KINDS = {
    # A hub-style tokenizer (with token_type_ids) and all 4 heads in both layers.
    "teacher": {"token_type_ids": True},
    # The same weights with [3, 1] heads and 40 of 64 FFN neurons: uneven heads per layer.
    "student": {"kept_heads": [[0, 2, 3], [1]], "kept_neurons": 40},
}


@functools.cache
def _session_root() -> Path:
    root = Path(tempfile.mkdtemp(prefix="slimnlp-tiny-"))
    atexit.register(shutil.rmtree, root, True)
    return root


@functools.cache
def tiny_model_dir(kind: str) -> Path:
    """A tiny model directory of `kind` ("teacher" or "student"), built once per session.
    Treat it as read-only: other tests share it."""
    return build_tiny_model_dir(_session_root() / kind, **TINY_KINDS[kind])


@functools.cache
def tiny_onnx_export(kind: str) -> tuple[Path, dict]:
    """(onnx_dir, export metrics) of `tiny_model_dir(kind)` exported with the default ExportConfig,
    once per session (the dynamo export takes a few seconds). Read-only, like the model dir."""
    from slimnlp.config import ExportConfig
    from slimnlp.export.onnx import export_onnx_model

    out = _session_root() / f"{kind}-onnx"
    metrics = export_onnx_model(
        tiny_model_dir(kind), out, TINY_TEXTS, ExportConfig(), TINY_LABELS, max_length=32
    )
    return out, metrics


# --set overrides for a whole pipeline of tiny models on the shipped sample (seconds per step).
TINY_PIPELINE_SETTINGS = [
    "teacher.num_layers=2",
    "teacher.hidden_size=32",
    "teacher.num_heads=4",
    "teacher.intermediate_size=64",
    "teacher.vocab_size=1500",
    "teacher.max_length=32",
    "teacher.epochs=12",
    "teacher.batch_size=16",
    "teacher.learning_rate=0.003",
    "teacher.patience=12",
    "distill.epochs=2",
    "distill.batch_size=16",
    "finetune_amp.epochs=1",
    "finetune_amp.batch_size=16",
    "prune.importance.batches=4",
    "prune.importance.batch_size=16",
    "benchmark.rounds=2",
    "benchmark.iterations=2",
    "benchmark.warmup=1",
    "benchmark.sequence_length=32",
    "export.parity_samples=16",
]


def tiny_step_config(tmp_path: Path, *extra: str):
    """A run config for calling steps directly: 48/24 rows of the shipped sample, a 2-layer 32-wide
    teacher trained one epoch, MLflow on SQLite in `tmp_path`, no CodeCarbon; `extra` --set values."""
    from slimnlp.config import load_config

    return load_config(
        overrides=[
            f"output_dir={tmp_path}",
            f"tracking.tracking_uri=sqlite:///{tmp_path}/mlflow.db",
            "tracking.codecarbon=false",
            "data.max_train_rows=48",
            "data.max_test_rows=24",
            "teacher.num_layers=2",
            "teacher.hidden_size=32",
            "teacher.num_heads=4",
            "teacher.intermediate_size=64",
            "teacher.vocab_size=300",
            "teacher.max_length=24",
            "teacher.epochs=1",
            *extra,
        ]
    )
