"""Stand-in for the slimnlp.steps step modules with the same signatures: each step checks and records its inputs.

Every output directory gets `seen.json` (input dirs, parent run id, MLFLOW_TRACKING_URI); the step
named by env FAKE_FAIL_STEP raises ValueError. benchmark writes a small results.json.
"""

import json
import os
from pathlib import Path


def _step(name, inputs, out_dir, parent_run_id, files=None):
    if os.environ.get("FAKE_FAIL_STEP") == name:
        raise ValueError(f"fake failure in {name}")
    out = Path(out_dir)
    for key, value in inputs.items():
        if not (Path(value) / "seen.json").is_file():
            raise FileNotFoundError(f"{name}: input {key} at {value} has no seen.json")
    seen = {
        "inputs": {k: str(v) for k, v in inputs.items()},
        "parent_run_id": parent_run_id,
        "tracking_uri": os.environ.get("MLFLOW_TRACKING_URI"),
    }
    (out / "seen.json").write_text(json.dumps(seen))
    for file_name, content in (files or {}).items():
        (out / file_name).write_text(json.dumps(content))
    return {"rows": 3, "test_macro_f1": 0.5, "test": {"macro_f1": 0.5}, "note": "not a number"}


def prepare_data(cfg, out_dir, *, parent_run_id=None):
    return _step("prepare-data", {}, out_dir, parent_run_id)


def train_teacher(cfg, data_dir, out_dir, *, parent_run_id=None):
    return _step("train-teacher", {"data": data_dir}, out_dir, parent_run_id)


def prune(cfg, data_dir, teacher_dir, out_dir, *, parent_run_id=None):
    return _step("prune", {"data": data_dir, "teacher": teacher_dir}, out_dir, parent_run_id)


def distill(cfg, data_dir, teacher_dir, student_dir, out_dir, *, parent_run_id=None):
    inputs = {"data": data_dir, "teacher": teacher_dir, "student": student_dir}
    return _step("distill", inputs, out_dir, parent_run_id)


def finetune_amp(cfg, data_dir, teacher_dir, student_dir, out_dir, *, parent_run_id=None):
    inputs = {"data": data_dir, "teacher": teacher_dir, "student": student_dir}
    return _step("finetune-amp", inputs, out_dir, parent_run_id)


def export_onnx(cfg, data_dir, model_dir, out_dir, *, parent_run_id=None):
    return _step("export-onnx", {"data": data_dir, "model": model_dir}, out_dir, parent_run_id)


def benchmark(cfg, data_dir, teacher_dir, student_dir, student_onnx_dir, out_dir, *, parent_run_id=None):
    inputs = {"data": data_dir, "teacher": teacher_dir, "student": student_dir, "onnx": student_onnx_dir}
    row = {"params_total": 1000, "size_bytes": 4000, "latency_b1_p50_ms": 2.0, "latency_b32_p50_ms": 9.0}
    rows = [
        {**row, "name": "teacher", "runtime": "pytorch", "accuracy": 0.9, "macro_f1": 0.89},
        {**row, "name": "student", "runtime": "onnx", "accuracy": 0.88, "macro_f1": 0.87},
    ]
    return _step("benchmark", inputs, out_dir, parent_run_id, files={"results.json": {"rows": rows}})


def promote(cfg, data_dir, teacher_dir, student_onnx_dir, results_dir, out_dir, *, parent_run_id=None):
    inputs = {"data": data_dir, "teacher": teacher_dir, "onnx": student_onnx_dir, "results": results_dir}
    decision = {"registered": False, "reason": "fake promote"}
    return _step("promote", inputs, out_dir, parent_run_id, files={"decision.json": decision})
