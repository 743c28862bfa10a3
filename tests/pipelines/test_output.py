"""What `slimnlp run` prints: one row per step, full logs per step, a failure that says what to do.

The end-to-end case runs the fake pipeline (tests/pipelines/fake_steps) through kfp.local twice:
once whole, once with --resume and a step that fails.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import pytest

from slimnlp_pipelines.cli import main
from slimnlp_pipelines.live import LiveTable, StepLogs, headline, step_error
from tests.expected_steps import STEPS

FAKE_STEPS = Path(__file__).parent / "fake_steps"


# --------------------------------------------------------------------------------------------------
# Pieces


def test_step_logs_file_each_task_and_report_start_and_end(tmp_path):
    events = []
    logs = StepLogs(
        tmp_path, on_start=lambda s: events.append(("start", s)), on_end=lambda s, st: events.append((s, st))
    )
    logs.write("00:00:01 - INFO - Running pipeline: \x1b[95m'p'\x1b[0m\n")
    logs.write("00:00:01 - INFO - Executing task \x1b[96m'prune'\x1b[0m\n    {\n")
    logs.write('        "executor_input": 1\n    ValueError: boom\n')
    logs.write("00:00:02 - INFO - Task \x1b[96m'prune'\x1b[0m finished with status \x1b[92mSUCCESS\x1b[0m\n")
    logs.write("Executing task 'prune'\nslimnlp: reused prune from /x (record /r/prune/k.json)\n")
    logs.close()
    assert events == [("start", "prune"), ("prune", "SUCCESS"), ("start", "prune-2")]
    prune = (tmp_path / "prune.log").read_text()
    assert '"executor_input": 1' in prune and "\x1b[" not in prune
    assert "Running pipeline" in (tmp_path / "pipeline.log").read_text()
    assert step_error(tmp_path / "prune.log") == "ValueError: boom"
    assert logs.reused == {"prune-2": Path("/r/prune/k.json")}
    assert logs.stopped_step() == "prune-2"


def test_headline_picks_the_step_figures():
    assert headline({"train_rows": 357, "dev_rows": 40, "test_rows": 99, "num_labels": 8}) == (
        "train 357 · dev 40 · test 99 · labels 8"
    )
    line = headline({"test_accuracy": 0.7123, "test_macro_f1": 0.69, "params_total": 1234567})
    assert line == "acc 0.712 · macro-F1 0.690 · params 1,234,567"
    # A step's peak memory (the component reports it) ends the row, after at most four figures.
    data = {"train_rows": 357, "dev_rows": 40, "test_rows": 99, "num_labels": 8, "peak_rss_gib": 1.26}
    assert headline(data) == "train 357 · dev 40 · test 99 · labels 8 · peak 1.3 GiB"
    assert "x3.10 (student.onnx-int8, b32)" in headline(
        {"student.onnx-int8.speedup_vs_teacher_b32": 3.1, "student.pytorch.speedup_vs_teacher_b32": 1.2}
    )


def test_live_table_rows():
    out = io.StringIO()
    table = LiveTable(out, live=False)
    table.header("run x")
    table.start("prune")
    table.end("prune", "done", "acc 0.700", wall_s=12.34)
    assert out.getvalue().splitlines()[-1] == "  prune               done         12.3 s   acc 0.700"


# --------------------------------------------------------------------------------------------------
# End to end through kfp.local


@pytest.fixture
def fake_run(monkeypatch, tmp_path):
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(FAKE_STEPS), os.environ.get("PYTHONPATH")]))
    )
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_RUN_ID", "FAKE_FAIL_STEP", "FAKE_TRACKING", "FAKE_WAIT_STEP"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FAKE_CALLS_FILE", str(tmp_path / "calls.txt"))
    settings = [f"output_dir={tmp_path}", "name=out", "tracking.codecarbon=false"]
    return [arg for setting in settings for arg in ("--set", setting)]


@pytest.mark.slow  # a whole kfp.local run of the fake steps, twice (~30 s): make test-slow
def test_run_prints_a_row_per_step_and_a_failure_says_log_error_and_resume(
    fake_run, tmp_path, monkeypatch, capsys
):
    assert main(["run", *fake_run]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert len(lines) <= 60, out
    assert "executor_input" not in out and "Executing task" not in out
    for step in STEPS:
        assert re.search(rf"^  {re.escape(step)}\s+done\s+\d+\.\d s", out, re.M), step
    logs = tmp_path / "out" / "logs"
    for step in STEPS:
        log = (logs / f"{step}.log").read_text()
        assert "executor_input" in log and f"Task '{step}' finished with status SUCCESS" in log
    assert f"Logs:      {logs}" in out

    # distill's section changed and it fails on the resumed run: the finished steps before it are
    # reused, not recomputed.
    (tmp_path / "calls.txt").unlink()
    monkeypatch.setenv("FAKE_FAIL_STEP", "distill")
    fake_run += ["--set", "distill.epochs=3"]
    assert main(["run", *fake_run, "--resume"]) == 1
    captured = capsys.readouterr()
    assert (tmp_path / "calls.txt").read_text().split() == ["distill"]
    for step in ("prepare-data", "train-teacher", "prune"):
        assert re.search(rf"^  {step}\s+reused", captured.out, re.M), step
    assert re.search(r"^  distill\s+FAILED\s+.*ValueError: fake failure in distill", captured.out, re.M)
    assert "error: the pipeline failed in step 'distill': ValueError: fake failure in distill" in captured.err
    assert f"its log:  {logs / 'distill.log'}" in captured.err
    resume = " ".join(f"--set {s}" for s in fake_run[1::2])
    assert f"resume:   slimnlp run {resume} --resume" in captured.err
    assert len(captured.out.splitlines()) + len(captured.err.splitlines()) <= 40


@pytest.mark.slow
def test_verbose_streams_every_line_as_before(fake_run, capsys):
    assert main(["run", *fake_run, "--verbose"]) == 0
    out = capsys.readouterr().out
    assert "Executing task" in out and "executor_input" in out
    assert "Step wall time and outputs:" in out


def test_step_logs_reach_each_step_run_in_mlflow(tmp_path):
    import mlflow

    from slimnlp.config import load_config
    from slimnlp.mlops import tracking

    cfg = load_config(
        None,
        [
            f"output_dir={tmp_path}",
            "tracking.codecarbon=false",
            f"tracking.tracking_uri=sqlite:///{tmp_path}/m.db",
        ],
    )
    with tracking.parent_run(cfg) as parent:
        for step in ("prune", "prune", "benchmark"):  # the grid runs a step once per branch
            with tracking.step_run(cfg, step, parent):
                pass
    paths = {}
    for name in ("prune", "prune-2", "benchmark"):
        paths[name] = tmp_path / f"{name}.log"
        paths[name].write_text(f"the log of {name}\n")
    tracking.log_step_logs(cfg, parent, paths)
    client = mlflow.MlflowClient(tracking.tracking_uri(cfg))
    children = client.search_runs(
        [client.get_run(parent).info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent}'",
        order_by=["start_time ASC"],
    )
    logged = [[a.path for a in client.list_artifacts(r.info.run_id, "logs")] for r in children]
    assert logged == [["logs/prune.log"], ["logs/prune-2.log"], ["logs/benchmark.log"]]
    text = Path(client.download_artifacts(children[1].info.run_id, "logs/prune-2.log", str(tmp_path / "dl")))
    assert text.read_text() == "the log of prune-2\n"
