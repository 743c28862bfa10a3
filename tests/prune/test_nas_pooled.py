"""The zero-layer point of prune.nas: mean-pooled token embeddings + head, distilled from the teacher,
saved, reloaded (slimnlp and plain transformers), exported to ONNX, and chosen like any front point."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from slimnlp import models
from slimnlp.config import ExportConfig, config_from_dict
from slimnlp.export.onnx import INT8_FILE, ONNX_FILE, export_onnx_model
from slimnlp.prune.nas.pooled import become_pooled, pooled_model, teacher_token_vectors, train_pooled_point
from slimnlp.prune.nas.space import SubNetwork
from slimnlp.prune.nas.supernet import slice_subnetwork
from slimnlp.training.batches import predict_logits
from tests.helpers_models import TINY_LABELS, TINY_TEXTS, build_tiny_model_dir


@pytest.fixture
def teacher(tmp_path):
    return models.load_model_dir(build_tiny_model_dir(tmp_path / "teacher"))


def _logits(model, tokenizer, texts, pad_to=None):
    padding = "max_length" if pad_to else True
    batch = tokenizer(texts, padding=padding, max_length=pad_to, truncation=True, return_tensors="pt")
    batch.pop("token_type_ids", None)
    with torch.no_grad():
        return model(**batch).logits


def test_with_no_layer_left_the_cls_row_says_nothing_and_the_mean_does(teacher):
    model, tokenizer = teacher
    cls_pooled = slice_subnetwork(copy.deepcopy(model), SubNetwork(((0, 0), (0, 0))))
    constant = _logits(cls_pooled, tokenizer, TINY_TEXTS[:6])
    assert torch.allclose(constant, constant[0].expand_as(constant))  # every text the same vector
    pooled = pooled_model(model, tokenizer, "embeddings")
    assert models.encoder_layers(pooled) == [] and pooled.config.slimnlp_pooling == "mean"
    logits = _logits(pooled, tokenizer, TINY_TEXTS[:6])
    assert logits.std(0).min() > 1e-3  # texts differ now
    # padding is masked out: a text alone and padded to 32 tokens give the same logits
    alone = _logits(pooled, tokenizer, TINY_TEXTS[:1])
    padded = _logits(pooled, tokenizer, TINY_TEXTS[:1], pad_to=32)
    assert torch.allclose(alone, padded, atol=1e-5)


def test_token_vectors_start_from_the_teachers_output(teacher):
    model, tokenizer = teacher
    vectors = teacher_token_vectors(model, tokenizer, batch_size=64)
    vocab = model.get_input_embeddings().weight.shape[0]
    assert vectors.shape == (vocab, model.config.hidden_size)
    token = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(TINY_TEXTS[0])[0])
    ids = torch.tensor([[tokenizer.cls_token_id, token, tokenizer.sep_token_id]])
    with torch.no_grad():
        expected = model.bert(input_ids=ids, attention_mask=torch.ones_like(ids)).last_hidden_state.mean(1)[0]
    assert torch.allclose(vectors[token], expected, atol=1e-5)
    pooled = pooled_model(model, tokenizer, "teacher-output")
    weights = pooled.get_input_embeddings().weight.detach()
    cosine = torch.nn.functional.cosine_similarity(weights[token], vectors[token], dim=0)
    assert cosine > 0.999  # the same direction, rescaled to the input embeddings' norm
    with pytest.raises(ValueError, match="pooled_init must be one of"):
        pooled_model(model, tokenizer, "random")


def test_the_zero_layer_model_saves_reloads_and_exports_with_its_pooling(teacher, tmp_path):
    model, tokenizer = teacher
    pooled = pooled_model(model, tokenizer, "embeddings").eval()
    expected = _logits(pooled, tokenizer, TINY_TEXTS[:6])
    out = models.save_model_dir(pooled, tokenizer, tmp_path / "pooled")
    assert models.model_layout(pooled)["pooling"] == "mean"
    reloaded, _ = models.load_model_dir(out)
    assert torch.allclose(_logits(reloaded, tokenizer, TINY_TEXTS[:6]), expected, atol=1e-6)
    from transformers import AutoModelForSequenceClassification

    plain = AutoModelForSequenceClassification.from_pretrained(out, trust_remote_code=True).eval()
    assert torch.allclose(_logits(plain, tokenizer, TINY_TEXTS[:6]), expected, atol=1e-6)
    metrics = export_onnx_model(out, tmp_path / "onnx", TINY_TEXTS[:8], ExportConfig(), None, 32)
    assert metrics["max_abs_diff"] < 1e-4 and metrics["int8_max_abs_diff"] < 1.0
    assert "no encoder layer" in metrics["fusion_skipped"]
    assert (tmp_path / "onnx" / ONNX_FILE).is_file() and (tmp_path / "onnx" / INT8_FILE).is_file()


def test_the_pooled_point_learns_from_the_teacher_and_keeps_its_best_epoch(teacher):
    model, tokenizer = teacher
    section = config_from_dict(
        {
            "prune": {
                "method": "nas",
                "nas": {"pooled_init": "embeddings", "pooled_epochs": 6, "batch_size": 8},
            }
        }
    ).prune.nas
    train = (TINY_TEXTS, TINY_LABELS)
    logits = predict_logits(model, tokenizer, TINY_TEXTS, 32)
    before = copy.deepcopy(model.state_dict())
    point = train_pooled_point(
        model, tokenizer, train, train, section, max_length=32, seed=13, teacher_logits=logits, progress=False
    )
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # the teacher is untouched
    assert point.arch.key == "-|-" and [h["epoch"] for h in point.history] == list(range(7))
    accuracies = [h["search_accuracy"] for h in point.history]
    assert point.search_accuracy == max(accuracies) > accuracies[0]  # it learned; the best epoch is kept
    predicted = predict_logits(point.model, tokenizer, TINY_TEXTS, 32).argmax(-1).numpy()
    assert np.mean(predicted == np.array(TINY_LABELS)) == pytest.approx(point.search_accuracy)
    # The pruner turns the super-network into the point in place (what the prune step saves).
    supernet = become_pooled(copy.deepcopy(model), point.model)
    assert torch.equal(
        predict_logits(supernet, tokenizer, TINY_TEXTS, 32),
        predict_logits(point.model, tokenizer, TINY_TEXTS, 32),
    )
