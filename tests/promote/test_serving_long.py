"""Long inputs: the exported graph (fused or plain) and the served pyfunc take any length up to the
model's maximum (512 positions here), and truncate beyond it, matching PyTorch."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from transformers import AutoTokenizer

from slimnlp.config import ExportConfig
from slimnlp.export.onnx import ONNX_FILE, export_onnx_model
from slimnlp.promote import promotion
from slimnlp.runtime.onnx import OnnxRunner
from slimnlp.runtime.torch import TorchRunner, torch_feed
from tests.helpers_models import TINY_ID2LABEL, TINY_TEXTS, build_tiny_model_dir

pytestmark = pytest.mark.slow  # a 512-position export and served pyfunc (~45 s on 2 cores): make test-slow

MAX = 512
# ~40, ~300 and ~1,400 tokens, beside short headlines: one batch pads them all to the longest
LONG_TEXTS = [" ".join(TINY_TEXTS[:3]), " ".join(TINY_TEXTS * 3), " ".join(TINY_TEXTS * 15), TINY_TEXTS[0]]


@pytest.fixture(scope="module")
def long_export(tmp_path_factory):
    root = tmp_path_factory.mktemp("long")
    model_dir = build_tiny_model_dir(root / "model", kept_heads=[[0, 2, 3], [1]], kept_neurons=40)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    tokenizer.model_max_length = MAX  # the model's maximum: its 512 position embeddings
    tokenizer.save_pretrained(model_dir)
    cfg = ExportConfig(parity_samples=8)
    metrics = export_onnx_model(model_dir, root / "onnx", LONG_TEXTS + TINY_TEXTS, cfg, max_length=MAX)
    return model_dir, root / "onnx", metrics


def test_lengths_are_what_the_test_means(long_export):
    model_dir, _, _ = long_export
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    lengths = [len(ids) for ids in tokenizer(LONG_TEXTS)["input_ids"]]
    assert lengths[1] > 256 and lengths[2] > MAX and lengths[3] < 32, lengths


@pytest.mark.parametrize("pad_to", [None, 300, MAX])
def test_onnx_graph_matches_pytorch_up_to_the_maximum_length(long_export, pad_to):
    model_dir, onnx_dir, metrics = long_export
    ort = OnnxRunner(onnx_dir / ONNX_FILE, onnx_dir, threads=1, max_length=MAX)
    pytorch = TorchRunner.from_dir(model_dir, MAX)
    feed = ort.encode(LONG_TEXTS, pad_to=pad_to)
    assert feed["input_ids"].shape[1] == (pad_to or MAX)
    assert np.abs(ort.run(feed) - pytorch.run(torch_feed(feed))).max() < ExportConfig().atol
    assert metrics["max_abs_diff"] <= ExportConfig().atol


def test_served_pyfunc_takes_long_texts_and_truncates_at_the_maximum(long_export, tmp_path: Path):
    model_dir, onnx_dir, _ = long_export
    model = mlflow.pyfunc.load_model(
        str(promotion.package_model(onnx_dir, tmp_path / "pyfunc", variant="fp32"))
    )
    out = model.predict(pd.DataFrame({"text": LONG_TEXTS}))
    pytorch = TorchRunner.from_dir(model_dir, MAX)
    logits = pytorch.run(pytorch.encode(LONG_TEXTS))
    assert out["label"].tolist() == [TINY_ID2LABEL[int(i)] for i in logits.argmax(-1)]
    expected = np.exp(logits - logits.max(-1, keepdims=True))
    expected /= expected.sum(-1, keepdims=True)
    np.testing.assert_allclose(out["score"].to_numpy(), expected.max(-1), atol=1e-4)
    # a text over the maximum gives what its first 512 tokens give, alone or in a batch
    alone = model.predict(pd.DataFrame({"text": [LONG_TEXTS[2]]}))
    assert alone["score"].iloc[0] == pytest.approx(out["score"].iloc[2], abs=1e-5)
