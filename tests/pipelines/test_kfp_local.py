"""`slimnlp run` through kfp.local with the fake steps and real MLflow step runs: what the KFP UI
shows (HTML, Metrics, ClassificationMetrics, Markdown), one lineage from the KFP run to every MLflow
step run, and the content-keyed cache (same data: every cacheable step reused; a changed data file:
everything reruns from prepare-data).
"""

import json
import os
from pathlib import Path

import pytest

from slimnlp_pipelines.cli import main
from tests.expected_steps import STEPS

FAKE_STEPS = Path(__file__).parent / "fake_steps"


def calls(calls_file: Path) -> list[str]:
    lines = calls_file.read_text().split() if calls_file.exists() else []
    calls_file.unlink(missing_ok=True)
    return lines


def task_outputs(pipeline_dir: Path, task: str) -> dict:
    """The output artifacts kfp.local recorded for a task: {name: artifact (uri, metadata)}."""
    executor_output = json.loads((pipeline_dir / task / "executor_output.json").read_text())
    return {name: entry["artifacts"][0] for name, entry in executor_output.get("artifacts", {}).items()}


@pytest.mark.slow
def test_ui_outputs_lineage_and_content_keyed_cache(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(FAKE_STEPS), os.environ.get("PYTHONPATH")]))
    )
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_RUN_ID", "FAKE_FAIL_STEP", "FAKE_WAIT_STEP"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FAKE_TRACKING", "1")  # every fake step opens a real MLflow step run
    calls_file = tmp_path / "calls.txt"
    monkeypatch.setenv("FAKE_CALLS_FILE", str(calls_file))
    train = tmp_path / "train.csv"
    train.write_text("text,label\nएक,a\nदोन,b\n", encoding="utf-8")
    db = f"sqlite:///{tmp_path / 'mlflow.db'}"
    settings = [
        f"output_dir={tmp_path}",
        "name=k",
        "tracking.codecarbon=false",
        f"tracking.tracking_uri={db}",
    ]
    argv = ["run", *[arg for s in [*settings, f"data.train_file={train}"] for arg in ("--set", s)]]

    # 1. First run: every step runs.
    assert main(argv) == 0
    assert calls(calls_file) == STEPS
    report = json.loads((tmp_path / "k" / "report" / "run.json").read_text())
    pipeline_dir = Path(report["pipeline_dir"])

    # What the KFP UI shows: the report, headline figures, the student's confusion matrix, markdown.
    bench = task_outputs(pipeline_dir, "benchmark")
    assert "fake report" in Path(bench["report"]["uri"]).read_text()
    assert "| student-onnx | 0.88 |" in Path(bench["summary"]["uri"]).read_text()
    figures = bench["figures"]["metadata"]
    assert figures["student_accuracy"] == 0.88 and figures["teacher_accuracy"] == 0.9
    assert figures["teacher_over_student_latency_b1_p50"] == 4.0
    matrix = bench["confusion"]["metadata"]["confusionMatrix"]
    assert [a["displayName"] for a in matrix["annotationSpecs"]] == ["a", "b"]
    assert [row["row"] for row in matrix["rows"]] == [[5, 1], [2, 7]]
    decision = Path(task_outputs(pipeline_dir, "promote")["decision_md"]["uri"]).read_text()
    assert decision.startswith("# Promotion decision") and "Not registered: fake promote." in decision

    # One lineage: the parent run carries the KFP run id; so does every step run under it.
    import mlflow

    client = mlflow.MlflowClient(db)
    parent = client.get_run(report["parent_run_id"])
    kfp_run_id = parent.data.tags["kfp.run_id"]
    assert kfp_run_id and parent.data.tags["kfp.run_name"]
    step_runs = client.search_runs(
        [parent.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'"
    )
    assert sorted(r.data.tags["slimnlp.step"] for r in step_runs) == sorted(STEPS)
    for run in step_runs:
        assert run.data.tags["kfp.run_id"] == kfp_run_id, run.info.run_name
        assert run.data.tags["slimnlp.parent_run_id"] == parent.info.run_id

    # 2. Same data, same config: only prepare-data (reads the data) and promote (side effects) run.
    assert main(argv) == 0
    assert calls(calls_file) == ["prepare-data", "promote"]
    reused = json.loads((tmp_path / "k" / "report" / "run.json").read_text())

    def figures(run: dict, step: str) -> dict:
        return {k: v for k, v in run["steps"][step]["metrics"].items() if k != "wall_time_s"}

    assert figures(reused, "train-teacher") == figures(report, "train-teacher")  # the recorded ones

    # 3. New bytes behind the same path: everything after prepare-data reruns.
    train.write_text("text,label\nएक,a\nदोन,b\nतीन,a\n", encoding="utf-8")
    assert main(argv) == 0
    assert calls(calls_file) == STEPS
    capsys.readouterr()
