"""The CUDA paths (fp16 autocast + gradient scaling); `make test-gpu` on a machine with a GPU."""

import pytest
import torch

from slimnlp.training.device import resolve_precision
from slimnlp.training.loop import LoopSettings, train_classifier
from tests.training.test_training import sport_or_rain_model

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (run on a GPU node)"),
]

TEXTS = ["क्रिकेट सामना जिंकला", "फुटबॉल संघ विजयी", "मुसळधार पाऊस पडला", "पावसामुळे पूर आला"] * 8
LABELS = [0, 0, 1, 1] * 8


def test_fp16_amp_trains_on_cuda():
    precision, reason = resolve_precision("auto", "cuda")
    assert precision == "fp16" and "gradient scaling" in reason
    model, tokenizer = sport_or_rain_model(TEXTS)
    settings = LoopSettings(
        epochs=10, batch_size=8, learning_rate=3e-3, patience=10, precision="fp16", max_length=16
    )
    history = train_classifier(
        model, tokenizer, (TEXTS, LABELS), (TEXTS[:4], LABELS[:4]), settings, progress=False, device="cuda"
    )
    assert history["precision"] == "fp16"
    assert history["best_dev_accuracy"] == 1.0
    assert next(model.parameters()).dtype == torch.float32  # master weights stay fp32 under AMP
