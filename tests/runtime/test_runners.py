"""One Runner per runtime: the same texts give the same logits in PyTorch and ONNX Runtime fp32, int8
runs through the same class, the TF-IDF baseline has the same interface, and `load_runner` picks
each by its runtime name."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from slimnlp.benchmark.baselines import train_tfidf_baseline
from slimnlp.config import ExportConfig
from slimnlp.export.onnx import INT8_FILE, ONNX_FILE
from slimnlp.runtime import RUNTIMES, load_runner, predict_logits
from slimnlp.runtime.inputs import text_batches, tokenize
from slimnlp.runtime.onnx import OnnxRunner, session_options
from slimnlp.runtime.torch import TorchRunner, torch_feed
from tests.helpers_models import TINY_ID2LABEL, TINY_LABELS, TINY_TEXTS, tiny_model_dir, tiny_onnx_export

KINDS = ["teacher", "student"]  # uniform heads + token_type_ids; uneven heads [3, 1]


def _runner(runtime: str, kind: str, tmp_path: Path):
    """`runtime`'s runner of the tiny `kind` model (sklearn: a baseline trained on the tiny texts)."""
    if runtime == "sklearn":
        baseline = train_tfidf_baseline(TINY_TEXTS, TINY_LABELS, TINY_ID2LABEL, tmp_path / "tfidf")
        return load_runner("sklearn", baseline)
    onnx_dir, _ = tiny_onnx_export(kind)
    path = {"pytorch": tiny_model_dir(kind), "onnx": onnx_dir / ONNX_FILE, "onnx-int8": onnx_dir / INT8_FILE}
    return load_runner(
        runtime, path[runtime], model_dir=tiny_model_dir(kind), tokenizer_dir=onnx_dir, spinning=False
    )


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_every_runtime_has_the_same_interface(runtime: str, tmp_path: Path) -> None:
    runner = _runner(runtime, "student", tmp_path)
    for batch, pad_to in [(1, None), (5, None), (5, 12)]:
        scores = runner.run(runner.encode(TINY_TEXTS[:batch], pad_to=pad_to))
        assert scores.shape == (batch, len(TINY_ID2LABEL))
    logits = predict_logits(runner, TINY_TEXTS, batch_size=7)
    assert logits.shape == (len(TINY_TEXTS), len(TINY_ID2LABEL)) and logits.dtype == np.float32
    assert set(logits.argmax(-1).tolist()) <= set(TINY_ID2LABEL)


@pytest.mark.parametrize("kind", KINDS)
def test_torch_and_onnx_fp32_logits_agree(kind: str) -> None:
    onnx_dir, _ = tiny_onnx_export(kind)
    pytorch = TorchRunner.from_dir(tiny_model_dir(kind), max_length=32)
    ort = OnnxRunner(onnx_dir / ONNX_FILE, onnx_dir, threads=1, max_length=32)
    atol = ExportConfig().atol
    for pad_to in (None, 7, 24):
        # Each runner tokenises for itself: same tokenizer files, same ids, so the same logits.
        for batch in text_batches(TINY_TEXTS, 10):
            np.testing.assert_allclose(
                ort.run(ort.encode(batch, pad_to)), pytorch.run(pytorch.encode(batch, pad_to)), atol=atol
            )
    feed = ort.encode(TINY_TEXTS[:4])
    np.testing.assert_allclose(ort.run(feed), pytorch.run(torch_feed(feed)), atol=atol)
    np.testing.assert_allclose(
        predict_logits(ort, TINY_TEXTS), predict_logits(pytorch, TINY_TEXTS), atol=atol
    )


def test_int8_is_the_same_runner_on_another_file() -> None:
    onnx_dir, metrics = tiny_onnx_export("student")
    fp32 = OnnxRunner(onnx_dir / ONNX_FILE, onnx_dir, max_length=32)
    int8 = OnnxRunner(onnx_dir / INT8_FILE, onnx_dir, max_length=32)
    assert int8.input_names == fp32.input_names
    logits = predict_logits(int8, TINY_TEXTS)
    assert np.isfinite(logits).all()
    # export-onnx scored int8 through this runner at the same batch size: the same predictions.
    accuracy = float((logits.argmax(-1) == np.asarray(TINY_LABELS)).mean())
    assert accuracy == pytest.approx(metrics["int8_accuracy"])


def test_sklearn_runner_featurises_inside_run(tmp_path: Path) -> None:
    runner = _runner("sklearn", "student", tmp_path)
    assert runner.encode(TINY_TEXTS[:3], pad_to=5) == TINY_TEXTS[:3]  # no padding, no work
    accuracy = float((predict_logits(runner, TINY_TEXTS).argmax(-1) == np.asarray(TINY_LABELS)).mean())
    assert accuracy > 0.9  # trained on these very texts


def test_tokenize_pads_to_the_longest_text_or_exactly_pad_to() -> None:
    runner = TorchRunner.from_dir(tiny_model_dir("teacher"), max_length=32)
    dynamic = tokenize(runner.tokenizer, TINY_TEXTS[:5], max_length=32, tensors="np")
    assert dynamic["input_ids"].dtype == np.int64 and dynamic["input_ids"].shape[1] <= 32
    fixed = tokenize(runner.tokenizer, TINY_TEXTS[:5], max_length=32, pad_to=40, tensors="np")
    assert fixed["input_ids"].shape == (5, 40)  # pad_to wins over max_length
    names = tokenize(runner.tokenizer, TINY_TEXTS[:2], 32, names=["attention_mask", "input_ids"])
    assert list(names) == ["attention_mask", "input_ids"]
    assert text_batches(list("abcde"), 2) == [["a", "b"], ["c", "d"], ["e"]]


def test_benchmark_sessions_do_not_spin() -> None:
    assert (
        session_options(2, spinning=False).get_session_config_entry("session.intra_op.allow_spinning") == "0"
    )
    assert session_options(2).intra_op_num_threads == 2
    with pytest.raises(ValueError, match="optimisation level"):
        session_options(1, level="max")


def test_load_runner_errors_name_what_is_missing() -> None:
    with pytest.raises(ValueError, match="runtime must be one of"):
        load_runner("tensorrt", "x")
    onnx_dir, _ = tiny_onnx_export("student")
    with pytest.raises(ValueError, match="tokenizer_dir"):
        load_runner("onnx", onnx_dir / ONNX_FILE, model_dir=tiny_model_dir("student"))
