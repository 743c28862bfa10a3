"""Graph fusion in export-onnx: per-layer heads read from the graph, parity at every shape, and the
fused graph kept only where it measured faster."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest

from slimnlp.config import ExportConfig
from slimnlp.export import onnx as export_onnx
from slimnlp.export.fusion import (
    ATTENTION_OPS,
    FusionError,
    choose_faster,
    export_fused,
    fuse_graph,
    fusion_speedup,
)
from slimnlp.export.onnx import FUSED_FILES, INT8_FILE, ONNX_FILE, export_onnx_model
from slimnlp.models import load_model_dir
from slimnlp.runtime.onnx import OnnxRunner
from slimnlp.runtime.torch import TorchRunner, torch_feed
from tests.helpers_models import (
    TINY_LABELS,
    TINY_TEXTS,
    build_tiny_model_dir,
    tiny_model_dir,
    tiny_onnx_export,
)


def _attention_heads(path: Path) -> list[int]:
    return [
        next(a.i for a in node.attribute if a.name == "num_heads")
        for node in onnx.load(str(path)).graph.node
        if node.op_type in ATTENTION_OPS
    ]


@pytest.mark.parametrize(
    ("kept_heads", "expected"), [(None, [4, 4]), ([[0, 2, 3], [1]], [3, 1]), ([[1], [0, 1, 2, 3]], [1, 4])]
)
def test_fused_attention_has_each_layers_own_head_count_and_matches_pytorch(
    tmp_path: Path, kept_heads, expected
) -> None:
    model_dir = build_tiny_model_dir(tmp_path / "model", kept_heads=kept_heads, kept_neurons=40)
    model, tokenizer = load_model_dir(model_dir)
    path = tmp_path / "fused.onnx"
    assert export_fused(model, tokenizer, TINY_TEXTS, path, opset=18, max_length=32) == expected
    assert _attention_heads(path) == expected
    ort = OnnxRunner(path, model_dir, threads=1, max_length=32)
    pytorch = TorchRunner(model, tokenizer, 32)
    # other batch sizes and lengths than the traced example, with and without padding
    for batch_size, pad_to in [(1, None), (7, None), (3, 5), (2, 32), (24, None)]:
        feed = ort.encode(TINY_TEXTS[:batch_size], pad_to=pad_to)
        assert np.abs(ort.run(feed) - pytorch.run(torch_feed(feed))).max() < 1e-4, (batch_size, pad_to)
    assert not list(tmp_path.glob("*.unfused.onnx")), "the intermediate export is removed"


def test_a_graph_without_the_bert_pattern_is_a_clear_fusion_error(tmp_path: Path) -> None:
    # the dynamo graph (what model.onnx starts as) has no attention pattern ORT knows
    plain = tiny_onnx_export("student")[0]
    source = tmp_path / "dynamo.onnx"
    export_onnx.export_fp32(*load_model_dir(tiny_model_dir("student")), TINY_TEXTS, source, 18, 32, False)
    with pytest.raises(FusionError, match="fused no attention in .*dynamo.onnx"):
        fuse_graph(source, tmp_path / "out.onnx")
    assert not (tmp_path / "out.onnx").exists()
    assert (plain / ONNX_FILE).is_file()


def test_speedup_is_the_geometric_mean_of_plain_over_fused() -> None:
    medians = {"b1_s32": {"p": 2.0, "f": 1.0}, "b32_s32": {"p": 8.0, "f": 16.0}}
    assert fusion_speedup(medians, "p", "f") == pytest.approx(1.0)
    medians["b32_s32"]["f"] = 4.0
    assert fusion_speedup(medians, "p", "f") == pytest.approx(2.0)
    assert choose_faster(1.01) and not choose_faster(1.0) and not choose_faster(0.8)


@pytest.mark.parametrize("kind", ["teacher", "student"])
def test_export_reports_the_ratio_and_serves_the_faster_graph(kind: str) -> None:
    out, metrics = tiny_onnx_export(kind)
    assert metrics["fused_heads_per_layer"] == ([4, 4] if kind == "teacher" else [3, 1])
    assert metrics["fusion_parity_diff"] <= ExportConfig().atol
    for precision, served in (("fp32", ONNX_FILE), ("int8", INT8_FILE)):
        speedup = metrics[f"fusion_speedup_{precision}"]
        assert speedup > 0
        assert metrics[f"fusion_kept_{precision}"] is (speedup > 1.0)
        fused_ops = any(
            n.op_type in (*ATTENTION_OPS, "QAttention") for n in onnx.load(str(out / served)).graph.node
        )
        assert fused_ops is metrics[f"fusion_kept_{precision}"], precision
    for point in metrics["fusion_timing_ms"].values():
        assert set(point) == {ONNX_FILE, INT8_FILE, *FUSED_FILES.values()}
        assert all(ms > 0 for ms in point.values())
    assert not any((out / name).exists() for name in FUSED_FILES.values()), "the loser is removed"


@pytest.mark.parametrize("fused_faster", [False, True])
def test_fusion_is_kept_only_where_it_measured_faster(
    tmp_path: Path, monkeypatch, fused_faster: bool
) -> None:
    """The decision follows the timings: here the measurement is replaced by fixed figures."""

    def timings(files, *args, **kwargs):
        fused_ms = 1.0 if fused_faster else 3.0
        return {"b1_s32": {name: fused_ms if "fused" in name else 2.0 for name in files}}

    monkeypatch.setattr(export_onnx, "time_files", timings)
    model_dir = tmp_path / "student"
    shutil.copytree(tiny_model_dir("student"), model_dir)
    metrics = export_onnx_model(model_dir, tmp_path / "onnx", TINY_TEXTS, ExportConfig(), TINY_LABELS, 32)
    assert metrics["fusion_kept_fp32"] is metrics["fusion_kept_int8"] is fused_faster
    assert metrics["fusion_speedup_fp32"] == pytest.approx(2.0 / (1.0 if fused_faster else 3.0))
    assert (_attention_heads(tmp_path / "onnx" / ONNX_FILE) == [3, 1]) is fused_faster
    assert metrics["fp32_accuracy"] == pytest.approx(tiny_onnx_export("student")[1]["fp32_accuracy"])


def test_optimize_false_skips_fusion(tmp_path: Path) -> None:
    cfg = ExportConfig(optimize=False, quantize_int8=False, parity_samples=4)
    metrics = export_onnx_model(tiny_model_dir("student"), tmp_path / "onnx", TINY_TEXTS[:4], cfg)
    assert metrics["fusion_skipped"] == "export.optimize is false"
    assert metrics["fused_attention"] is False
    assert _attention_heads(tmp_path / "onnx" / ONNX_FILE) == []
