"""Run-level faults: `slimnlp run` stopped by SIGTERM, its MLflow server killed, then `--resume`.

Each case runs the real CLI, kfp.local, MLflow (SQLite store or a real server) and resume records;
the step bodies are the fakes (tests/pipelines/fake_steps) inside real MLflow step runs
(FAKE_TRACKING=1), and train-teacher waits (FAKE_WAIT_STEP) so the fault lands while it runs.

What must hold: the run ends FAILED, no MLflow run is left RUNNING, the earlier steps' outputs are
intact, and `--resume` completes without recomputing any step that had finished.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from slimnlp.mlops.resume import dir_digest

pytestmark = pytest.mark.slow

FAKE_STEPS = Path(__file__).parents[1] / "pipelines" / "fake_steps"
SLIMNLP = Path(sys.executable).parent / "slimnlp"


def fake_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FAKE_", "MLFLOW_"))}
    env.update(
        PYTHONPATH=os.pathsep.join(filter(None, [str(FAKE_STEPS), os.environ.get("PYTHONPATH")])),
        FAKE_TRACKING="1",
        FAKE_CALLS_FILE=str(tmp_path / "calls.txt"),
        FAKE_WAIT_STARTED=str(tmp_path / "started"),
        FAKE_WAIT_GO=str(tmp_path / "go"),
        **extra,
    )
    return env


def run_args(tmp_path: Path, tracking_uri: str) -> list[str]:
    settings = [
        f"output_dir={tmp_path}",
        "name=f",
        "tracking.codecarbon=false",
        f"tracking.tracking_uri={tracking_uri}",
    ]
    return [str(SLIMNLP), "run", *[a for s in settings for a in ("--set", s)]]


def wait_for(path: Path, process: subprocess.Popen, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        if process.poll() is not None:
            raise AssertionError(f"the run ended first:\n{process.stdout.read()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} did not appear in {timeout_s} s")
        time.sleep(0.1)


def step_alive(pid: int) -> bool:
    import psutil

    try:  # a zombie (its `sh` parent gone, not reaped yet) has ended
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def runs(tracking_uri: str) -> list:
    import mlflow

    client = mlflow.MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name("slimnlp")
    return client.search_runs([experiment.experiment_id], max_results=1000)


def prepare_data_output(tmp_path: Path) -> Path:
    (out,) = sorted((tmp_path / "f" / "kfp").glob("*/prepare-data/data"))
    return out


def calls(tmp_path: Path) -> list[str]:
    return (tmp_path / "calls.txt").read_text().split()


def test_sigterm_during_train_teacher_fails_the_run_and_resume_completes(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    process = subprocess.Popen(
        run_args(tmp_path, uri),
        env=fake_env(tmp_path, FAKE_WAIT_STEP="train-teacher"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    wait_for(tmp_path / "started", process)
    step_pid = int((tmp_path / "started").read_text())
    data = prepare_data_output(tmp_path)
    before = dir_digest(data)
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=120)
    assert process.returncode == 130, out
    assert "interrupted (Ctrl-C or SIGTERM)" in out and "--resume" in out
    assert re.search(r"^  train-teacher\s+stopped", out, re.M), out
    assert not step_alive(step_pid), "the step's own process ended too"
    statuses = {(r.info.run_name, r.info.status) for r in runs(uri)}
    assert statuses == {("f", "FAILED"), ("prepare-data", "FINISHED"), ("train-teacher", "FAILED")}, statuses
    teacher_run = next(r for r in runs(uri) if r.info.run_name == "train-teacher")
    assert "interrupted" in teacher_run.data.tags["slimnlp.error"]
    assert dir_digest(data) == before, "prepare-data's output is intact"

    resumed = subprocess.run(
        [*run_args(tmp_path, uri), "--resume"],
        env=fake_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert re.search(r"^  prepare-data\s+reused", resumed.stdout, re.M)
    assert calls(tmp_path).count("prepare-data") == 1, (
        "prepare-data finished before SIGTERM: never recomputed"
    )
    assert calls(tmp_path).count("train-teacher") == 2
    assert not [r for r in runs(uri) if r.info.status == "RUNNING"]
    parents = [r for r in runs(uri) if r.data.tags.get("slimnlp.kind") == "pipeline"]
    assert sorted(r.info.status for r in parents) == ["FAILED", "FINISHED"]


def test_mlflow_server_killed_mid_run_then_restarted_and_resumed(tmp_path, restartable_mlflow):
    uri = restartable_mlflow.url
    # Fail fast instead of MLflow's minutes of retries against a dead server.
    quick = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "5"}
    process = subprocess.Popen(
        run_args(tmp_path, uri),
        env=fake_env(tmp_path, FAKE_WAIT_STEP="train-teacher", **quick),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    wait_for(tmp_path / "started", process)
    restartable_mlflow.kill()
    (tmp_path / "go").touch()
    out, _ = process.communicate(timeout=300)
    assert process.returncode == 1, out
    assert f"the MLflow tracking server {uri} does not answer: start it again, then resume" in out
    assert "--resume" in out
    data = prepare_data_output(tmp_path)
    before = dir_digest(data)

    restartable_mlflow.start()
    left_open = sorted(r.info.run_name for r in runs(uri) if r.info.status == "RUNNING")
    assert left_open == ["f", "train-teacher"], "a dead server could not be told the run failed"
    resumed = subprocess.run(
        [*run_args(tmp_path, uri), "--resume"],
        env=fake_env(tmp_path, **quick),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "closed 2 MLflow run(s) left RUNNING" in resumed.stdout
    assert not [r for r in runs(uri) if r.info.status == "RUNNING"]
    assert calls(tmp_path).count("prepare-data") == 1
    assert dir_digest(data) == before
    reused = [r for r in runs(uri) if r.data.tags.get("slimnlp.reused") == "true"]
    assert [r.info.run_name for r in reused] == ["prepare-data"]
