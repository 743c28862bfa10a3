"""Data-parallel training with 2 CPU processes (torchrun, gloo) against 1 process.

Stated tolerance: with dropout off, every logged training loss of 2 processes is within 1e-4
(relative) of 1 process, and so are the final weights: each process takes its rows of the same
batch (same masks) and its loss is weighted by its share, so only float summation order differs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest

from slimnlp import steps
from slimnlp.mlops import tracking
from slimnlp.pretrain import mlm
from tests.training import ddp_worker

pytestmark = pytest.mark.slow  # torchrun with 2 processes per test (~70 s in all): make test-slow

WORKER = Path(ddp_worker.__file__)
ROOT = WORKER.parents[2]
RTOL = 1e-4


def torchrun(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    """The worker under `torchrun --nproc_per_node 2` (gloo on CPU), one thread per process."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(name, None)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(WORKER), *args]  # fmt: skip
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    if check and done.returncode != 0:
        raise AssertionError(f"torchrun failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return done


def _losses(result: dict) -> list[float]:
    return [r["train_loss"] for r in result["history"] if "train_loss" in r]


def _rank0(out: Path) -> dict:
    return json.loads(Path(f"{out}.rank0").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def one_process_mlm(tmp_path_factory):
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return ddp_worker.run_mlm(tmp_path_factory.mktemp("mlm-1"))
    finally:
        torch.set_num_threads(threads)


def test_2_process_pretraining_matches_1_resumes_and_keeps_one_checkpoint(one_process_mlm, tmp_path):
    """Interrupted at step 5 (a Ctrl-C on both processes), then resumed: the whole loss curve, the
    held-out perplexity and the weights match one uninterrupted process."""
    import torch

    stopped = torchrun("mlm", str(tmp_path / "out"), str(tmp_path / "work"), "5", check=False)
    assert stopped.returncode != 0
    state = torch.load(tmp_path / "work" / mlm.CHECKPOINT_DIR / mlm.STATE_FILE, weights_only=True)
    assert state["step"] == 5
    torchrun("mlm", str(tmp_path / "out"), str(tmp_path / "work"))
    two = _rank0(tmp_path / "out")
    assert two["steps"] == one_process_mlm["steps"] == 8
    assert two["tokens_seen"] == one_process_mlm["tokens_seen"]
    assert len(_losses(two)) == 8
    assert _losses(two) == pytest.approx(_losses(one_process_mlm), rel=RTOL)
    assert two["heldout_perplexity"] == pytest.approx(one_process_mlm["heldout_perplexity"], rel=RTOL)
    assert two["weights_sum"] == pytest.approx(one_process_mlm["weights_sum"], rel=RTOL)
    # exactly one checkpoint, written by rank 0 (no second copy, no leftovers of an atomic save)
    assert sorted(p.name for p in (tmp_path / "work").iterdir()) == [mlm.CHECKPOINT_DIR]
    rank1 = json.loads(Path(f"{tmp_path / 'out'}.rank1").read_text())
    assert "heldout_perplexity" not in rank1, "rank 0 alone scores held-out text"


def test_classifier_training_of_2_processes_matches_1(tmp_path):
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        one = ddp_worker.run_classifier(tmp_path / "one")
    finally:
        torch.set_num_threads(threads)
    torchrun("classifier", str(tmp_path / "out"), str(tmp_path / "two"))
    two = _rank0(tmp_path / "out")
    assert [r["train_loss"] for r in two["history"]] == pytest.approx(
        [r["train_loss"] for r in one["history"]], rel=RTOL
    )
    assert [r["dev_macro_f1"] for r in two["history"]] == [r["dev_macro_f1"] for r in one["history"]]
    assert two["weights_sum"] == pytest.approx(one["weights_sum"], rel=RTOL)
    rank1 = json.loads(Path(f"{tmp_path / 'out'}.rank1").read_text())
    assert rank1["history"] == two["history"], "every process follows rank 0's dev scores"


def test_steps_under_torchrun_write_one_output_and_one_mlflow_run_each(tmp_path):
    cfg = ddp_worker.step_config(tmp_path)
    steps.prepare_data(cfg, tmp_path / "data")
    torchrun("steps", str(tmp_path))
    mlflow.set_tracking_uri(tracking.tracking_uri(cfg))
    experiment = mlflow.get_experiment_by_name(cfg.tracking.experiment)
    runs = mlflow.search_runs([experiment.experiment_id], output_format="list")
    names = sorted(r.info.run_name for r in runs)
    assert names == ["prepare-data", "pretrain-mlm", "train-teacher"], names  # one run per step
    assert all(r.info.status == "FINISHED" for r in runs)
    assert (tmp_path / "teacher" / "model.safetensors").is_file()
    assert json.loads((tmp_path / "teacher" / "metrics.json").read_text())["epochs_run"] >= 1
    caches = list((tmp_path / "pretrain-cache").iterdir())
    assert len(caches) == 1 and not (caches[0] / mlm.CHECKPOINT_DIR).exists()
    assert (caches[0] / "model" / "model.safetensors").is_file()
