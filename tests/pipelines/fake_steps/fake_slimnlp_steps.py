"""Stand-in for the slimnlp.steps step modules with the same signatures: each step checks and records its inputs.

Every output directory gets `seen.json` (input dirs), and `<output>.run.json` beside it the parent
run id and MLFLOW_TRACKING_URI the step saw; the step
named by env FAKE_FAIL_STEP raises ValueError. prepare-data copies data.train_file into its output
(a changed file changes every later step's inputs); benchmark writes a small results.json with a
confusion matrix, results.md and report.html.

For the resume and fault tests (all off unless set): FAKE_CALLS_FILE gets one line per step body
run; FAKE_TRACKING=1 runs each body inside a real MLflow step run (slimnlp.mlops.tracking.step_run);
the step named by FAKE_WAIT_STEP creates the file FAKE_WAIT_STARTED and then waits (up to 60 s)
until the file FAKE_WAIT_GO exists, so a test can kill something while that step runs.
"""

import json
import os
import time
from pathlib import Path


def _wait_if_asked(name):
    if os.environ.get("FAKE_WAIT_STEP") != name:
        return
    Path(os.environ["FAKE_WAIT_STARTED"]).write_text(str(os.getpid()))
    deadline = time.monotonic() + 60
    while not Path(os.environ["FAKE_WAIT_GO"]).exists() and time.monotonic() < deadline:
        time.sleep(0.05)


def _step(cfg, name, inputs, out_dir, parent_run_id, files=None):
    if os.environ.get("FAKE_CALLS_FILE"):
        with open(os.environ["FAKE_CALLS_FILE"], "a") as calls:
            calls.write(name + "\n")
    if os.environ.get("FAKE_TRACKING") != "1":
        return _body(name, inputs, out_dir, parent_run_id, files)
    from slimnlp.mlops.tracking import step_run

    with step_run(cfg, name, parent_run_id) as run:
        return run.finish(Path(out_dir), _body(name, inputs, out_dir, parent_run_id, files))


def _body(name, inputs, out_dir, parent_run_id, files=None):
    _wait_if_asked(name)
    if os.environ.get("FAKE_FAIL_STEP") == name:
        raise ValueError(f"fake failure in {name}")
    out = Path(out_dir)
    for key, value in inputs.items():
        if not (Path(value) / "seen.json").is_file():
            raise FileNotFoundError(f"{name}: input {key} at {value} has no seen.json")
    seen = {"inputs": {k: str(v) for k, v in inputs.items()}}
    (out / "seen.json").write_text(json.dumps(seen))
    # What only this run saw lies beside the output, not in it: a real step's output does not
    # depend on the run it ran in, and later steps' keys hash their inputs' content.
    run = {
        # What the step would nest under: the argument, else the run the local run names by env.
        "parent_run_id": parent_run_id or os.environ.get("SLIMNLP_PARENT_RUN_ID"),
        "tracking_uri": os.environ.get("MLFLOW_TRACKING_URI"),
    }
    out.with_name(out.name + ".run.json").write_text(json.dumps(run))
    for file_name, content in (files or {}).items():
        (out / file_name).write_text(content if isinstance(content, str) else json.dumps(content))
    return {"rows": 3, "test_macro_f1": 0.5, "test": {"macro_f1": 0.5}, "note": "not a number"}


def prepare_data(cfg, out_dir, *, parent_run_id=None):
    # The prepared data is the training file's bytes: a changed file changes every later key.
    train = Path(cfg.data.train_file) if cfg.data.train_file else None
    files = {"train.txt": train.read_text(encoding="utf-8")} if train and train.is_file() else {}
    return _step(cfg, "prepare-data", {}, out_dir, parent_run_id, files=files)


def train_teacher(cfg, data_dir, out_dir, *, parent_run_id=None):
    return _step(cfg, "train-teacher", {"data": data_dir}, out_dir, parent_run_id)


def prune(cfg, data_dir, teacher_dir, out_dir, *, parent_run_id=None):
    return _step(cfg, "prune", {"data": data_dir, "teacher": teacher_dir}, out_dir, parent_run_id)


def distill(cfg, data_dir, teacher_dir, student_dir, out_dir, *, parent_run_id=None):
    inputs = {"data": data_dir, "teacher": teacher_dir, "student": student_dir}
    return _step(cfg, "distill", inputs, out_dir, parent_run_id)


def finetune_amp(cfg, data_dir, teacher_dir, student_dir, out_dir, *, parent_run_id=None):
    inputs = {"data": data_dir, "teacher": teacher_dir, "student": student_dir}
    return _step(cfg, "finetune-amp", inputs, out_dir, parent_run_id)


def export_onnx(cfg, data_dir, model_dir, out_dir, *, parent_run_id=None):
    return _step(cfg, "export-onnx", {"data": data_dir, "model": model_dir}, out_dir, parent_run_id)


def benchmark(cfg, data_dir, teacher_dir, student_dir, student_onnx_dir, out_dir, *, parent_run_id=None):
    inputs = {"data": data_dir, "teacher": teacher_dir, "student": student_dir, "onnx": student_onnx_dir}
    row = {"params_total": 1000, "size_bytes": 4000, "latency_b1_p50_ms": 2.0, "latency_b32_p50_ms": 9.0}
    rows = [
        {
            **row,
            "name": "teacher-onnx",
            "role": "teacher",
            "runtime": "onnx",
            "accuracy": 0.9,
            "macro_f1": 0.89,
        },
        {
            **row,
            "name": "student-onnx",
            "role": "student",
            "runtime": "onnx",
            "accuracy": 0.88,
            "macro_f1": 0.87,
        },
    ]
    rows[1]["latency_b1_p50_ms"] = 0.5  # 4x faster than the teacher
    results = {
        "rows": rows,
        "id2label": {"0": "a", "1": "b"},
        "confusion": {"student-onnx": [[5, 1], [2, 7]]},
    }
    files = {
        "results.json": results,
        "results.md": "| variant | accuracy |\n|---|---|\n| student-onnx | 0.88 |\n",
        "report.html": "<html><body><h1>fake report</h1></body></html>",
    }
    return _step(cfg, "benchmark", inputs, out_dir, parent_run_id, files=files)


def promote(cfg, data_dir, teacher_dir, student_onnx_dir, results_dir, out_dir, *, parent_run_id=None):
    inputs = {"data": data_dir, "teacher": teacher_dir, "onnx": student_onnx_dir, "results": results_dir}
    decision = {"registered": False, "reason": "fake promote"}
    return _step(cfg, "promote", inputs, out_dir, parent_run_id, files={"decision.json": decision})
