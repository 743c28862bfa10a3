"""`slimnlp run` end to end through kfp.local, with fake steps (tests/pipelines/fake_steps).

The components, artifact passing, MLflow parent run and the report are real; only the work inside
each step is replaced, through a sitecustomize on PYTHONPATH that kfp.local's subprocesses inherit.
"""

import json
import os
import re
from pathlib import Path

import pytest

from slimnlp_pipelines.cli import main
from tests.expected_steps import STEPS

FAKE_STEPS = Path(__file__).parent / "fake_steps"


@pytest.fixture(scope="module")
def tracking_db(tmp_path_factory):
    # One SQLite store for both tests: creating its tables takes MLflow several seconds.
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


@pytest.fixture
def fake_env(monkeypatch, tmp_path, tracking_db):
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(FAKE_STEPS), os.environ.get("PYTHONPATH")]))
    )
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    monkeypatch.delenv("FAKE_FAIL_STEP", raising=False)
    settings = [
        f"output_dir={tmp_path}",
        "name=fake",
        "tracking.codecarbon=false",
        f"tracking.tracking_uri={tracking_db}",
    ]
    return [arg for setting in settings for arg in ("--set", setting)]


def parent_run(tracking_db, run_id):
    import mlflow

    return mlflow.MlflowClient(tracking_db).get_run(run_id)


def test_local_run_wires_steps_and_reports(fake_env, tmp_path, tracking_db, capsys):
    assert main(["run", *fake_env]) == 0
    out = capsys.readouterr().out
    run_dir = tmp_path / "fake"
    report = json.loads((run_dir / "report" / "run.json").read_text())
    assert list(report["steps"]) == STEPS
    pipeline_dir = Path(report["pipeline_dir"])

    def seen(step, output):
        return json.loads((pipeline_dir / step / output / "seen.json").read_text())

    def saw(step, output):
        return json.loads((pipeline_dir / step / f"{output}.run.json").read_text())

    parent = parent_run(tracking_db, report["parent_run_id"])
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["slimnlp.kind"] == "pipeline"
    for step, output in [("prepare-data", "data"), ("prune", "model"), ("benchmark", "results")]:
        assert saw(step, output)["parent_run_id"] == parent.info.run_id
        assert saw(step, output)["tracking_uri"] == report["tracking_uri"]
    assert seen("distill", "model")["inputs"]["student"] == str(pipeline_dir / "prune" / "model")
    bench = seen("benchmark", "results")["inputs"]
    assert bench["student"] == str(pipeline_dir / "finetune-amp" / "model")
    assert bench["onnx"] == str(pipeline_dir / "export-onnx" / "onnx")
    assert (run_dir / "report" / "results.json").is_file()
    # Only headline numbers reach the KFP metrics; nested details stay in MLflow and metrics.json.
    assert report["steps"]["prune"]["metrics"]["test_macro_f1"] == 0.5
    assert "test.macro_f1" not in report["steps"]["prune"]["metrics"]
    assert isinstance(report["steps"]["prune"]["wall_time_s"], float)
    assert (
        0.005 < report["steps"]["prune"]["metrics"]["peak_rss_gib"] < 20
    )  # the step process (fake steps: no torch)
    assert "student" in out and "mlflow ui --backend-store-uri" in out and parent.info.run_id in out


def test_failing_step_marks_parent_failed(fake_env, tracking_db, monkeypatch, capsys):
    monkeypatch.setenv("FAKE_FAIL_STEP", "train-teacher")
    assert main(["run", *fake_env]) == 1
    captured = capsys.readouterr()
    assert "fake failure in train-teacher" in captured.out  # the task's log is streamed
    assert "error: the pipeline failed in step 'train-teacher'" in captured.err
    run_id = re.search(r"MLflow parent run (\w+) is marked FAILED", captured.err).group(1)
    assert parent_run(tracking_db, run_id).info.status == "FAILED"
