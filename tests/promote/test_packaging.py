"""What the registered pyfunc serves: `registry.serve_variant` picks the ONNX file, and ONNX Runtime's
providers follow the machine that loads it (CUDA first when onnxruntime offers it)."""

from __future__ import annotations

import json

import mlflow
import numpy as np
import pandas as pd
import pytest

from slimnlp.config import ConfigError, load_config
from slimnlp.promote import promotion, serving
from slimnlp.runtime import predict_logits
from slimnlp.runtime.onnx import OnnxRunner
from tests.helpers_models import TINY_ID2LABEL, TINY_TEXTS, tiny_onnx_export


@pytest.mark.parametrize(
    ("variant", "served", "left_out"),
    [("int8", "model.int8.onnx", "model.onnx"), ("fp32", "model.onnx", "model.int8.onnx")],
)
def test_serve_variant_switches_the_served_file(tmp_path, variant, served, left_out):
    onnx_dir, _ = tiny_onnx_export("student")
    model_dir = promotion.package_model(onnx_dir, tmp_path / "model", variant, TINY_TEXTS)
    files = {p.name for p in (model_dir / "artifacts" / "onnx").iterdir()}
    assert served in files and left_out not in files
    assert json.loads((model_dir / "artifacts" / "onnx" / serving.SERVING_FILE).read_text()) == {
        "variant": variant,
        "onnx_file": served,
    }
    model = mlflow.pyfunc.load_model(str(model_dir))
    assert model.metadata.metadata["slimnlp_serve_variant"] == variant
    # The labels are those of that very file, through the runner the benchmark measured it with.
    expected = predict_logits(OnnxRunner(onnx_dir / served, onnx_dir, threads=1), TINY_TEXTS).argmax(-1)
    labels = model.predict(pd.DataFrame({"text": TINY_TEXTS}))["label"].tolist()
    assert labels == [TINY_ID2LABEL[int(i)] for i in expected]


def test_int8_and_fp32_packages_differ_in_size(tmp_path):
    onnx_dir, _ = tiny_onnx_export("student")
    sizes = {}
    for variant in ("int8", "fp32"):
        model_dir = promotion.package_model(onnx_dir, tmp_path / variant / "model", variant)
        sizes[variant] = sum(p.stat().st_size for p in model_dir.rglob("*.onnx"))
    assert sizes["int8"] < sizes["fp32"]


def test_serve_variant_is_validated():
    assert load_config(None, []).registry.serve_variant == "int8"
    with pytest.raises(ConfigError, match="registry.serve_variant must be 'int8' or 'fp32', got 'fp16'"):
        load_config(None, ["registry.serve_variant=fp16"])


@pytest.mark.parametrize(
    ("available", "expected"),
    [
        (["CPUExecutionProvider"], ["CPUExecutionProvider"]),
        (
            ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"],
            ["CUDAExecutionProvider", "CPUExecutionProvider"],
        ),
        (["AzureExecutionProvider"], ["CPUExecutionProvider"]),
    ],
)
def test_providers_follow_what_onnxruntime_offers(available, expected):
    assert serving.choose_providers(available) == expected


def test_the_loaded_model_asks_for_cuda_when_onnxruntime_offers_it(tmp_path, monkeypatch):
    """With onnxruntime-gpu on a GPU machine `get_available_providers` lists CUDA; the session is
    asked for it first (the real CUDA load runs under `make test-gpu`, tests/runtime/test_gpu.py)."""
    import onnxruntime as ort

    onnx_dir, _ = tiny_onnx_export("student")
    model_dir = promotion.package_model(onnx_dir, tmp_path / "model", "int8")
    asked = []
    real_session = ort.InferenceSession

    def session(path, options=None, providers=None):
        asked.append(providers)
        return real_session(path, options, providers=["CPUExecutionProvider"])

    monkeypatch.setattr(
        ort, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"]
    )
    monkeypatch.setattr(ort, "InferenceSession", session)
    model = mlflow.pyfunc.load_model(str(model_dir))
    assert asked[-1] == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert model.unwrap_python_model().providers == ["CPUExecutionProvider"]  # what really runs here
    assert np.isfinite(model.predict(pd.DataFrame({"text": TINY_TEXTS[:2]}))["score"]).all()


@pytest.mark.gpu
def test_the_served_model_runs_on_cuda_with_onnxruntime_gpu(tmp_path):
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        pytest.skip("needs onnxruntime-gpu and a CUDA device (make test-gpu on a GPU node)")
    onnx_dir, _ = tiny_onnx_export("student")
    model = mlflow.pyfunc.load_model(str(promotion.package_model(onnx_dir, tmp_path / "model", "fp32")))
    assert model.unwrap_python_model().providers[0] == "CUDAExecutionProvider"
    assert len(model.predict(pd.DataFrame({"text": TINY_TEXTS}))) == len(TINY_TEXTS)
