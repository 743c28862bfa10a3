"""Energy: inference energy per 1,000 predictions, the steps' own trackers, carbon payback."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from slimnlp.benchmark.energy import (
    compression_energy,
    payback,
    step_energy_from_metrics,
    step_energy_from_mlflow,
)
from slimnlp.benchmark.harness import benchmark_models
from slimnlp.config import BenchmarkConfig, load_config
from slimnlp.mlops import tracking
from tests.benchmark.test_benchmark import tiny_variants
from tests.helpers_models import TINY_ID2LABEL, TINY_LABELS, TINY_TEXTS


def test_payback_is_compression_energy_over_the_saving_per_prediction() -> None:
    # 0.01 kWh spent; 0.004 -> 0.001 kWh per 1,000 predictions saves 3e-6 kWh per prediction.
    assert payback(0.01, 0.004, 0.001) == pytest.approx(0.01 / 3e-6)
    assert math.isinf(payback(0.01, 0.001, 0.004))  # the "student" costs more: never repaid
    assert payback(None, 0.004, 0.001) is None and payback(0.01, None, 0.001) is None


def test_compression_energy_leaves_the_teacher_out() -> None:
    steps = {
        "train-teacher": {"energy_kwh": 5.0, "emissions_kg_co2": 4.0},
        "prune": {"energy_kwh": 0.25, "emissions_kg_co2": 0.2},
        "distill": {"energy_kwh": 0.5, "emissions_kg_co2": 0.4},
    }
    spent = compression_energy(steps)
    assert spent["compression_kwh"] == pytest.approx(0.75)
    assert spent["compression_kg_co2"] == pytest.approx(0.6)
    assert spent["compression_steps"] == ["prune", "distill"]
    assert spent["compression_steps_missing"] == ["finetune-amp", "export-onnx"]
    assert compression_energy({})["compression_kwh"] is None


def test_the_steps_own_trackers_are_read_back(tmp_path: Path) -> None:
    cfg = load_config(
        overrides=[
            f"output_dir={tmp_path}",
            f"tracking.tracking_uri=sqlite:///{tmp_path}/mlflow.db",
            "tracking.codecarbon=true",
        ]
    )
    dirs = {"prune": tmp_path / "pruned", "distill": tmp_path / "distilled"}
    with tracking.parent_run(cfg) as parent:
        for step, out in dirs.items():
            with tracking.step_run(cfg, step, parent) as run:
                out.mkdir()
                sum(i * i for i in range(200_000))  # some work for the tracker to see
                run.finish(out, {"work": 1})  # metrics.json is written once, with the energy, on exit
    from_files = step_energy_from_metrics(dirs | {"finetune-amp": tmp_path / "absent"})
    assert set(from_files) == {"prune", "distill"}
    assert json.loads((dirs["prune"] / "metrics.json").read_text())["work"] == 1
    import mlflow

    from_mlflow = step_energy_from_mlflow(mlflow.MlflowClient(tracking.tracking_uri(cfg)), parent)
    assert set(from_mlflow) == {"prune", "distill"}
    for step in dirs:
        assert from_files[step]["energy_kwh"] > 0
        assert from_mlflow[step]["energy_kwh"] == pytest.approx(from_files[step]["energy_kwh"])
        assert from_mlflow[step]["energy_method"] == from_files[step]["energy_method"] != "unknown"


def test_inference_energy_and_payback_rows(tmp_path: Path) -> None:
    cfg = BenchmarkConfig(
        batch_sizes=[32], sequence_length=16, rounds=1, iterations=2, warmup=1, threads=1,
        peak_memory="off", energy_seconds=0.5,
    )  # fmt: skip
    teacher, student = tiny_variants("teacher")[1], tiny_variants("student")[1]
    student.compression_kwh = 2e-6
    steps = {"prune": {"energy_kwh": 2e-6, "emissions_kg_co2": 1e-6, "duration_s": 1.0, "energy_method": "x"}}
    results = benchmark_models(
        [teacher, student],
        TINY_TEXTS,
        TINY_LABELS,
        TINY_ID2LABEL,
        cfg,
        tmp_path,
        progress=False,
        step_energy=steps,
    )
    rows = {row["name"]: row for row in results["rows"]}
    for row in rows.values():
        assert row["energy_kwh_per_1k"] > 0 and row["co2_g_per_1k"] > 0
        assert row["energy_predictions"] % 32 == 0 and row["energy_seconds"] >= 0.5
        # An estimate is never labelled a measurement.
        assert row["energy_measured"] == ("measured" in row["energy_method"])
    expected = payback(
        2e-6, rows["teacher-onnx"]["energy_kwh_per_1k"], rows["student-onnx"]["energy_kwh_per_1k"]
    )
    assert rows["student-onnx"]["payback_predictions_vs_teacher"] == expected
    assert results["summary"]["versus"]["teacher-onnx"]["payback_predictions"] == expected
    assert Path(results["files"]["energy_plot"]).read_bytes().startswith(b"\x89PNG")
    saved = json.loads(Path(results["files"]["json"]).read_text(encoding="utf-8"))
    assert saved["step_energy"]["prune"]["energy_kwh"] == 2e-6
    markdown = Path(results["files"]["markdown"]).read_text(encoding="utf-8")
    assert "## Energy of the pipeline steps" in markdown and "| prune | 0.002 |" in markdown
