"""The disk fills up while export-onnx writes: a real, size-limited filesystem (tmpfs, 16 MB).

The run folder (step outputs, resume records, MLflow artifacts) lives on the small filesystem; a
ballast file leaves it less room than the export needs. The step runs through the real component
entry (slimnlp.steps.entry.run_component) with a real MLflow step run, on a tiny model.

What must hold: the step fails with the system's own "No space left on device", its MLflow run is
FAILED with that error, no resume record claims it finished, the data and model it read are
intact, and once space is freed the same call completes (and prepare-data is reused, not rerun).
Mounting needs root (CAP_SYS_ADMIN); elsewhere the test skips and says so.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from slimnlp.config import load_config
from slimnlp.mlops import resume
from slimnlp.steps.entry import run_component

pytestmark = pytest.mark.slow


@pytest.fixture
def small_fs(tmp_path: Path):
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a size-limited tmpfs here (needs root): {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def chain_text(err: BaseException) -> str:
    parts = []
    while err is not None:
        parts.append(f"{type(err).__name__}: {err}")
        err = err.__cause__ or err.__context__
    return " <- ".join(parts)


def test_disk_full_while_exporting(small_fs: Path, tmp_path: Path, monkeypatch):
    import mlflow

    from tests.helpers_models import tiny_model_dir, tiny_onnx_export

    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"  # the store itself elsewhere, as a server would be
    cfg = load_config(
        None,
        [
            f"output_dir={small_fs}",
            "name=full",
            "tracking.codecarbon=false",
            f"tracking.tracking_uri={tracking}",
        ],
    )
    monkeypatch.setenv(resume.RESUME_ENV, "1")
    step_dir = small_fs / "full" / "steps"
    data_dir = step_dir / "prepare-data"
    run_component("prepare-data", cfg.to_json(), "", "", str(data_dir))
    model = tiny_model_dir("teacher")
    model_before, data_before = resume.dir_digest(model), resume.dir_digest(data_dir)

    # Leave a third of what the export writes (its size measured on the same tiny model).
    export_size = sum(p.stat().st_size for p in tiny_onnx_export("teacher")[0].rglob("*") if p.is_file())
    free = shutil.disk_usage(small_fs).free
    ballast = small_fs / "ballast.bin"
    assert free > export_size, "the small filesystem must fit the export once the ballast is gone"
    with open(ballast, "wb") as handle:
        handle.write(b"\0" * (free - export_size // 3))

    out = step_dir / "export-onnx"
    with pytest.raises(BaseException) as failure:
        run_component("export-onnx", cfg.to_json(), "", "", str(out), data=str(data_dir), model=str(model))
    print(f"export-onnx on a full disk: {chain_text(failure.value)[:400]}")
    assert "No space left on device" in chain_text(failure.value), chain_text(failure.value)

    client = mlflow.MlflowClient(tracking)
    (export_run,) = [r for r in client.search_runs(_experiments(client)) if r.info.run_name == "export-onnx"]
    assert export_run.info.status == "FAILED"
    assert "No space left on device" in export_run.data.tags["slimnlp.error"]
    assert not (small_fs / "full" / "resume" / "export-onnx").exists(), "no record: the step did not finish"
    assert resume.dir_digest(model) == model_before and resume.dir_digest(data_dir) == data_before

    ballast.unlink()  # space freed: the same call completes, prepare-data is reused
    metrics = run_component(
        "export-onnx", cfg.to_json(), "", "", str(out), data=str(data_dir), model=str(model)
    )
    assert metrics["onnx_size_bytes"] > 0
    import onnx

    onnx.checker.check_model(str(out / "model.onnx"))
    assert len(list((small_fs / "full" / "resume" / "export-onnx").glob("*.json"))) == 1
    again = step_dir / "prepare-data-again"
    run_component("prepare-data", cfg.to_json(), "", "", str(again))
    assert resume.dir_digest(again) == data_before
    assert (
        os.stat(again / "train.arrow").st_ino == os.stat(data_dir / "train.arrow").st_ino
    )  # linked, not rerun


def _experiments(client) -> list[str]:
    return [e.experiment_id for e in client.search_experiments()]
