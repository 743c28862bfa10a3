"""Estimates of a training step's time and memory, and the early failure with what to reduce."""

from __future__ import annotations

import dataclasses

import pytest

from slimnlp.mlops import resources
from slimnlp.models import load_model_dir
from tests.helpers_models import tiny_model_dir


def test_estimate_grows_with_work_and_model():
    model, _ = load_model_dir(tiny_model_dir("teacher"))
    small = resources.estimate_training(model, n_texts=100, mean_tokens=20, epochs=1, batch_size=16)
    more = resources.estimate_training(model, n_texts=200, mean_tokens=20, epochs=3, batch_size=16)
    assert more.seconds == pytest.approx(small.seconds * 6, rel=1e-6)
    assert more.steps == 13 * 3 and small.steps == 7
    wide = resources.estimate_training(model, n_texts=100, mean_tokens=20, epochs=1, batch_size=64)
    assert wide.peak_bytes > small.peak_bytes  # activations of a bigger batch
    params = sum(p.numel() for p in model.parameters())
    assert small.peak_bytes >= 20 * params
    assert resources.measured_gflops() > 0.1
    assert "epoch(s)" in small.describe() and "GiB available" in small.describe()


def test_a_step_that_cannot_fit_fails_early_saying_what_to_reduce():
    model, _ = load_model_dir(tiny_model_dir("teacher"))
    estimate = resources.estimate_training(model, n_texts=100, mean_tokens=20, epochs=1, batch_size=16)
    tight = dataclasses.replace(estimate, available_bytes=estimate.peak_bytes / 2)
    with pytest.raises(
        resources.ResourceError, match=r"teacher: .* reduce teacher.batch_size or teacher.max_length"
    ):
        resources.check_affordable(tight, "teacher")
    with pytest.raises(resources.ResourceError, match=r"over the .* reduce distill.epochs"):
        resources.check_affordable(estimate, "distill", max_seconds=estimate.seconds / 10)
    resources.check_affordable(estimate, "teacher", max_seconds=estimate.seconds * 10)  # fits: no error


def test_training_prints_its_estimate_before_the_first_step(capsys):
    from slimnlp.training.loop import LoopSettings, train_classifier
    from tests.helpers_models import TINY_LABELS, TINY_TEXTS

    model, tokenizer = load_model_dir(tiny_model_dir("teacher"))
    settings = LoopSettings(epochs=1, batch_size=8, learning_rate=1e-3, max_length=32)
    train_classifier(model, tokenizer, (TINY_TEXTS, TINY_LABELS), (TINY_TEXTS[:6], TINY_LABELS[:6]), settings)
    out = capsys.readouterr().out
    assert out.index("estimated: ") < out.index("epoch 1:")
