"""benchmark on a tiny teacher and its pruned student, in PyTorch, ONNX and ONNX int8."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from slimnlp.benchmark import Variant, benchmark_models, format_table
from slimnlp.benchmark_memory import peak_memory
from slimnlp.config import BenchmarkConfig, ConfigError
from slimnlp.export import INT8_FILE, ONNX_FILE
from tests.helpers_models import TINY_ID2LABEL, TINY_LABELS, TINY_TEXTS, tiny_model_dir, tiny_onnx_export

FAST = BenchmarkConfig(
    batch_sizes=[1, 32], sequence_length=16, rounds=2, iterations=3, warmup=1, threads=1, peak_memory="off"
)


def tiny_variants(kind: str) -> list[Variant]:
    model_dir = tiny_model_dir(kind)
    onnx_dir, _ = tiny_onnx_export(kind)
    common = {"role": kind, "model_dir": str(model_dir)}
    return [
        Variant(f"{kind}-pt", "pytorch", str(model_dir), str(model_dir), **common),
        Variant(f"{kind}-onnx", "onnx", str(onnx_dir / ONNX_FILE), str(onnx_dir), **common),
        Variant(f"{kind}-int8", "onnx-int8", str(onnx_dir / INT8_FILE), str(onnx_dir), **common),
    ]


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("bench")
    variants = tiny_variants("teacher") + tiny_variants("student")
    return benchmark_models(variants, TINY_TEXTS, TINY_LABELS, TINY_ID2LABEL, FAST, out, progress=False)


def test_every_row_has_sane_numbers(results: dict) -> None:
    rows = {row["name"]: row for row in results["rows"]}
    assert len(rows) == 6
    for row in rows.values():
        assert 0.0 <= row["accuracy"] <= 1.0 and 0.0 <= row["macro_f1"] <= 1.0
        assert all(0.0 <= row[f"f1_{label}"] <= 1.0 for label in TINY_ID2LABEL.values())
        assert 0.0 <= row["agreement_with_teacher"] <= 1.0
        for batch in FAST.batch_sizes:
            assert row[f"latency_b{batch}_p95_ms"] >= row[f"latency_b{batch}_p50_ms"] > 0
            assert row[f"throughput_b{batch}"] > 0
        assert row["size_bytes"] > 0 and row["gflops_per_sequence"] > 0
    assert len(results["latency_samples_ms"]["student-onnx"]["32"]) == FAST.rounds * FAST.iterations


def test_student_is_smaller_and_compared_in_its_own_runtime(results: dict) -> None:
    rows = {row["name"]: row for row in results["rows"]}
    for runtime in ("pt", "onnx", "int8"):
        teacher, student = rows[f"teacher-{runtime}"], rows[f"student-{runtime}"]
        assert student["params_total"] < teacher["params_total"]
        assert student["gflops_per_sequence"] < teacher["gflops_per_sequence"]
        expected = teacher["latency_b32_p50_ms"] / student["latency_b32_p50_ms"]
        assert student["speedup_vs_teacher_b32"] == pytest.approx(expected)
        assert student["accuracy_delta_vs_teacher"] == pytest.approx(
            student["accuracy"] - teacher["accuracy"]
        )
        assert "speedup_vs_teacher_b32" not in teacher
    assert rows["teacher-pt"]["agreement_with_teacher"] == 1.0
    assert rows["teacher-onnx"]["agreement_with_teacher"] == 1.0  # fp32 export keeps every prediction
    assert rows["teacher-int8"]["size_bytes"] < rows["teacher-onnx"]["size_bytes"]
    assert any(row["pareto"] for row in rows.values())


def test_environment_is_recorded(results: dict) -> None:
    env = results["environment"]
    assert env["cpu_model"] and env["threads"] == FAST.threads
    assert "avx512_vnni" in env["isa_flags"] and "amx_tile" in env["isa_flags"]
    assert env["torch"] and env["onnxruntime"]


def test_report_files_are_written(results: dict) -> None:
    files = {kind: Path(path) for kind, path in results["files"].items()}
    for kind in ("json", "markdown", "csv", "plot", "confusion:student-int8"):
        assert files[kind].is_file() and files[kind].stat().st_size > 0, kind
    assert files["plot"].read_bytes().startswith(b"\x89PNG")
    saved = json.loads(files["json"].read_text(encoding="utf-8"))
    assert [row["name"] for row in saved["rows"]] == [row["name"] for row in results["rows"]]
    with files["csv"].open(encoding="utf-8") as handle:
        assert len(list(csv.DictReader(handle))) == 6
    assert "| student-int8 | onnx-int8 | student |" in files["markdown"].read_text(encoding="utf-8")


def test_format_table_names_every_variant(results: dict) -> None:
    table = format_table(results)
    for row in results["rows"]:
        assert row["name"] in table
    assert "speed-up" in table and "x" in table.splitlines()[-2]


def test_runtimes_not_configured_are_skipped(tmp_path: Path) -> None:
    cfg = BenchmarkConfig(
        batch_sizes=[2],
        sequence_length=8,
        rounds=1,
        iterations=1,
        warmup=0,
        threads=1,
        runtimes=["onnx"],
        peak_memory="off",
    )
    variants = tiny_variants("student")
    out = benchmark_models(
        variants, TINY_TEXTS[:6], TINY_LABELS[:6], TINY_ID2LABEL, cfg, tmp_path, progress=False
    )
    assert [row["name"] for row in out["rows"]] == ["student-onnx"]
    assert out["skipped"] == ["student-pt", "student-int8"]
    assert "agreement_with_teacher" not in out["rows"][0]  # no teacher to agree with


def test_peak_memory_in_a_fresh_process() -> None:
    cfg = BenchmarkConfig(sequence_length=16, threads=1)
    memory = peak_memory(tiny_variants("student")[1], TINY_TEXTS[:4], cfg)
    assert memory["peak_rss_mb"] > memory["peak_rss_delta_mb"] >= 0


def test_bad_inputs_are_clear_errors(tmp_path: Path) -> None:
    variant = tiny_variants("student")[1]
    missing = Variant("ghost", "onnx", str(tmp_path / "none.onnx"), str(tmp_path), "student", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="none.onnx"):
        benchmark_models([missing], TINY_TEXTS, TINY_LABELS, TINY_ID2LABEL, FAST, tmp_path, progress=False)
    with pytest.raises(ValueError, match="unique"):
        benchmark_models([variant, variant], TINY_TEXTS, TINY_LABELS, TINY_ID2LABEL, FAST, tmp_path)
    with pytest.raises(ValueError, match="not in id2label"):
        benchmark_models([variant], TINY_TEXTS[:1], [7], TINY_ID2LABEL, FAST, tmp_path)
    with pytest.raises(ConfigError, match="peak_memory"):
        BenchmarkConfig(peak_memory="sometimes")
