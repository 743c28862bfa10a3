"""2:4 semi-structured sparsity on CUDA (slimnlp.runtime.sparse24, benchmarks/sparse24_cuda.py).

On CPU: the pattern check, and the clear refusal (library and benchmark) naming why it cannot run.
On a GPU (`make test-gpu`): a 2:4-pruned model converted to the sparse kernels gives the dense
model's predictions, and the benchmark script times it.
"""

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from slimnlp.models import build_bert
from slimnlp.prune.oneshot.masks import holds_n_m
from slimnlp.prune.oneshot.unstructured import magnitude_2of4
from slimnlp.runtime.sparse24 import to_semi_structured, unavailable_reason

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "sparse24_cuda.py"
gpu = pytest.mark.gpu
needs_kernels = pytest.mark.skipif(
    unavailable_reason() is not None, reason=f"2:4 kernels unavailable: {unavailable_reason()}"
)
cpu_only = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal where there is no CUDA")


def pruned_2of4_bert(hidden: int = 128, layers: int = 2) -> torch.nn.Module:
    """A random BERT whose 12 encoder matrices hold 2:4 (magnitude); shapes fit the kernels' tiles."""
    torch.manual_seed(0)
    model = build_bert(
        500,
        3,
        {0: "a", 1: "b", 2: "c"},
        num_layers=layers,
        hidden_size=hidden,
        num_heads=2,
        intermediate_size=4 * hidden,
        max_length=64,
    ).eval()
    magnitude_2of4(model)
    return model


def test_holds_n_m_reads_every_group():
    assert holds_n_m(torch.tensor([[0.0, 1.0, 0.0, 2.0, 3.0, 0.0, 0.0, 4.0]]), 2, 4)
    assert holds_n_m(torch.zeros(3, 8), 2, 4)  # fewer nonzeros than allowed still holds
    assert not holds_n_m(torch.tensor([[1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]]), 2, 4)
    assert not holds_n_m(torch.ones(2, 6), 2, 4)  # 6 inputs cannot hold groups of 4
    model = pruned_2of4_bert(hidden=64, layers=1)
    layer = model.bert.encoder.layer[0]
    assert holds_n_m(layer.attention.self.query.weight, 2, 4)
    assert not holds_n_m(model.bert.pooler.dense.weight, 2, 4)


@cpu_only
def test_without_cuda_the_conversion_says_why():
    reason = unavailable_reason()
    assert reason is not None and "no CUDA device" in reason and "dense speed" in reason
    with pytest.raises(RuntimeError, match="2:4 sparse kernels unavailable: no CUDA device"):
        to_semi_structured(pruned_2of4_bert(hidden=64, layers=1))


@cpu_only
def test_benchmark_script_without_cuda_exits_2_and_records_why(tmp_path):
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--shapes", "", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert done.returncode == 2, done.stderr
    assert "2:4 on CUDA not measured: no CUDA device" in done.stderr
    record = json.loads((tmp_path / "sparse24.json").read_text())
    assert record["measured"] is False and "compute capability" in record["reason"]


@gpu
@needs_kernels
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_sparse_kernels_give_the_dense_predictions(dtype):
    model = pruned_2of4_bert().to("cuda", dtype)
    dense = copy.deepcopy(model)
    report = to_semi_structured(model)
    assert len(report.converted) == 12  # Q, K, V, attention out, FFN in and out of 2 layers
    assert report.dense["bert.pooler.dense"] == "no 2:4 pattern"
    ids = torch.randint(5, 500, (16, 40), device="cuda")
    feed = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    with torch.inference_mode():
        expected, got = dense(**feed).logits.float(), model(**feed).logits.float()
    assert torch.allclose(got, expected, atol=5e-2, rtol=5e-2), (got - expected).abs().max()
    assert (got.argmax(-1) == expected.argmax(-1)).float().mean() >= 0.9


@gpu
@needs_kernels
def test_the_benchmark_times_dense_and_sparse_on_cuda(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--shapes",
            "cpu-preset",
            "--points",
            "32x128",
            "--rounds",
            "3",
            "--calls",
            "5",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    row = json.loads((tmp_path / "sparse24.json").read_text())["rows"][0]
    assert row["linears_sparse"] == 24 and row["dense_ms"] > 0 and row["sparse_ms"] > 0
    assert row["same_prediction"] >= 0.9
