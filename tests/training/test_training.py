"""The one training loop: losses, precision choice, learning and early stopping."""

import pytest
import torch

from slimnlp import models
from slimnlp.training.batches import predict_logits
from slimnlp.training.device import resolve_precision
from slimnlp.training.loop import LoopSettings, train_classifier
from slimnlp.training.losses import combined_loss, kd_loss
from slimnlp.training.metrics import classification_metrics, distinct_text_scores

SPORT = ["क्रिकेट सामना जिंकला", "फुटबॉल संघ विजयी", "खेळाडूने शतक ठोकले", "कबड्डी स्पर्धा सुरू"]
RAIN = ["मुसळधार पाऊस पडला", "पावसामुळे पूर आला", "हवामान विभागाचा इशारा", "धरण भरले पाऊस"]


def sport_or_rain_model(texts):
    """A one-layer BERT and its tokenizer for the two-topic task (also used by the GPU test)."""
    tokenizer = models.train_wordpiece(texts, 200, 16)
    torch.manual_seed(0)
    model = models.build_bert(
        len(tokenizer),
        2,
        {0: "sport", 1: "rain"},
        num_layers=1,
        hidden_size=32,
        num_heads=2,
        intermediate_size=64,
        max_length=16,
        dropout=0.0,
    )
    return model, tokenizer


def dataset(repeat):
    texts = (SPORT + RAIN) * repeat
    return texts, [0, 0, 0, 0, 1, 1, 1, 1] * repeat


def test_kd_loss_is_zero_when_student_equals_teacher():
    logits = torch.randn(8, 5)
    assert kd_loss(logits, logits.clone(), 2.0).item() == pytest.approx(0.0, abs=1e-6)
    assert kd_loss(logits, torch.randn(8, 5), 2.0).item() > 0


def test_combined_loss_weights():
    logits, teacher, labels = torch.randn(4, 3), torch.randn(4, 3), torch.tensor([0, 1, 2, 0])
    ce = torch.nn.functional.cross_entropy(logits, labels)
    kd = kd_loss(logits, teacher, 3.0)
    assert combined_loss(logits, labels, None, 0.9, 3.0).item() == pytest.approx(ce.item())
    assert combined_loss(logits, labels, teacher, 0.25, 3.0).item() == pytest.approx(
        0.25 * kd.item() + 0.75 * ce.item()
    )


@pytest.mark.parametrize(
    ("requested", "device", "expected"),
    [
        ("auto", "cpu", "fp32"),
        ("auto", "cuda", "fp16"),
        ("fp16", "cpu", "fp32"),
        ("bf16", "cpu", "bf16"),
        ("fp32", "cuda", "fp32"),
    ],
)
def test_resolve_precision(requested, device, expected):
    precision, reason = resolve_precision(requested, device)
    assert precision == expected and reason


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_loop_learns_a_separable_task(precision):
    texts, labels = dataset(6)
    model, tokenizer = sport_or_rain_model(texts)
    settings = LoopSettings(
        epochs=15, batch_size=8, learning_rate=3e-3, patience=15, precision=precision, max_length=16
    )
    seen = []
    history = train_classifier(
        model,
        tokenizer,
        (texts, labels),
        (SPORT + RAIN, [0] * 4 + [1] * 4),
        settings,
        on_epoch=lambda e, r: seen.append(e),
        progress=False,
        device="cpu",
    )
    assert history["best_dev_accuracy"] == 1.0
    assert seen == list(range(1, history["epochs_run"] + 1))
    predictions = predict_logits(model, tokenizer, SPORT + RAIN, 16).argmax(-1).tolist()
    assert predictions == [0] * 4 + [1] * 4


def test_early_stopping_restores_best_epoch():
    texts, labels = dataset(2)
    tokenizer = models.train_wordpiece(texts, 200, 16)
    model = models.build_bert(
        len(tokenizer),
        2,
        {0: "a", 1: "b"},
        num_layers=1,
        hidden_size=16,
        num_heads=2,
        intermediate_size=32,
        max_length=16,
    )
    # A learning rate of ~0 cannot improve dev after epoch 1, so patience=2 stops at epoch 3.
    settings = LoopSettings(epochs=10, batch_size=8, learning_rate=1e-12, patience=2, max_length=16)
    history = train_classifier(model, tokenizer, (texts, labels), (texts, labels), settings, progress=False)
    assert history["epochs_run"] == 3 and history["best_epoch"] == 1


def test_classification_metrics_numbers():
    metrics = classification_metrics([0, 1, 1, 2], [0, 1, 2, 2], {0: "a", 1: "b", 2: "c"})
    assert metrics["accuracy"] == 0.75
    assert metrics["per_class_f1"] == {"a": 1.0, "b": pytest.approx(2 / 3), "c": pytest.approx(2 / 3)}
    assert metrics["macro_f1"] == pytest.approx((1 + 2 / 3 + 2 / 3) / 3)
    assert metrics["per_class_precision"] == {"a": 1.0, "b": 0.5, "c": 1.0}
    assert metrics["per_class_recall"] == {"a": 1.0, "b": 1.0, "c": 0.5}
    assert metrics["confusion"] == [[1, 0, 0], [0, 1, 0], [0, 1, 1]]  # rows gold, columns predicted


def test_classification_metrics_score_a_class_never_predicted_as_zero():
    metrics = classification_metrics([0, 0], [0, 1], {0: "a", 1: "b", 2: "c"})
    assert metrics["per_class_f1"] == {"a": pytest.approx(2 / 3), "b": 0.0, "c": 0.0}
    assert metrics["macro_f1"] == pytest.approx(2 / 9)  # every class of id2label counts


def test_distinct_text_scores_count_each_text_once():
    # "x" is repeated 3 times and always right; without it the model is right 1 time in 3.
    texts = ["x", "y", "x", "z", "x", "w"]
    labels = [0, 1, 0, 1, 0, 1]
    predictions = [0, 1, 0, 0, 0, 0]
    assert classification_metrics(predictions, labels)["accuracy"] == pytest.approx(4 / 6)
    scores = distinct_text_scores(texts, labels, predictions)
    assert scores["distinct_texts"] == 4
    assert scores["accuracy_distinct"] == pytest.approx(2 / 4)
    assert scores["macro_f1_distinct"] == pytest.approx(0.5)  # both classes: one of three right
    assert distinct_text_scores(["a", "b"], [0, 1], [0, 0]) == {}


def test_epochs_before_first_eligible_neither_win_nor_use_patience():
    texts, labels = dataset(2)
    tokenizer = models.train_wordpiece(texts, 200, 16)
    model = models.build_bert(
        len(tokenizer), 2, {0: "a", 1: "b"}, num_layers=1, hidden_size=16, num_heads=2, intermediate_size=32,
        max_length=16,
    )  # fmt: skip
    # As above dev cannot improve, yet epochs 1-3 are not eligible: epoch 4 is best, 5 and 6 stale.
    settings = LoopSettings(
        epochs=10, batch_size=8, learning_rate=1e-12, patience=2, max_length=16, first_eligible_epoch=4
    )
    history = train_classifier(model, tokenizer, (texts, labels), (texts, labels), settings, progress=False)
    assert history["best_epoch"] == 4 and history["epochs_run"] == 6


def test_mask_scores_learn_at_their_own_rate_without_weight_decay():
    from slimnlp.prune.block_movement.masks import attach_masks
    from slimnlp.training.loop import _optimizer

    texts, _ = dataset(1)
    model, _ = sport_or_rain_model(texts)
    controller = attach_masks(model, "head")
    settings = LoopSettings(epochs=1, batch_size=8, learning_rate=3e-5, score_learning_rate=1e-2)
    optimizer, scheduler = _optimizer(model, settings, total_steps=10)
    (scores_group,) = [g for g in optimizer.param_groups if g["lr"] != optimizer.param_groups[0]["lr"]]
    assert {id(p) for p in scores_group["params"]} == {id(t.scores) for t in controller.tensors}
    assert scores_group["weight_decay"] == 0.0
    assert scheduler.base_lrs[-1] == 1e-2 and scheduler.base_lrs[0] == 3e-5


def test_on_step_runs_before_every_training_step_with_the_total():
    texts, labels = dataset(2)
    model, tokenizer = sport_or_rain_model(texts)
    calls = []
    settings = LoopSettings(epochs=2, batch_size=8, learning_rate=1e-3, patience=5, max_length=16)
    train_classifier(
        model, tokenizer, (texts, labels), (texts, labels), settings, progress=False,
        on_step=lambda step, total: calls.append((step, total)),
    )  # fmt: skip
    assert calls == [(step, 4) for step in range(4)]
