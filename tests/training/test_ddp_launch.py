"""`kubernetes.accelerator_limit: N` > 1: the compiled pipeline asks the GPU steps' pods for N
processes, and a component started with that request runs its step under torchrun."""

from __future__ import annotations

import sys

import pytest
import yaml

from slimnlp.steps.spec import GPU_STEPS
from slimnlp.training import distributed
from slimnlp_pipelines.cli import main


def _containers(tmp_path, limit: int) -> dict[str, dict]:
    out = tmp_path / f"pipeline-{limit}.yaml"
    assert main(["compile", "--out", str(out), "--set", f"kubernetes.accelerator_limit={limit}"]) == 0
    spec = next(yaml.safe_load_all(out.read_text(encoding="utf-8")))
    containers = {}
    for task, body in spec["root"]["dag"]["tasks"].items():
        executor = spec["components"][body["componentRef"]["name"]]["executorLabel"]
        containers[task] = spec["deploymentSpec"]["executors"][executor]["container"]
    return containers


def test_accelerator_limit_over_1_starts_that_many_processes_in_gpu_pods(tmp_path):
    containers = _containers(tmp_path, 4)
    env = {"name": distributed.NPROC_ENV, "value": "4"}
    gpu_tasks = [task for task in containers if task in GPU_STEPS]
    assert gpu_tasks, "the compiled pipeline has training steps"
    for task, container in containers.items():
        assert (env in container.get("env", [])) is (task in GPU_STEPS), task
    for container in _containers(tmp_path, 1).values():
        assert all(e["name"] != distributed.NPROC_ENV for e in container.get("env", []))


def test_requested_processes_come_from_the_pod_and_never_nest(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.delenv(distributed.NPROC_ENV, raising=False)
    assert distributed.requested_processes() == 1
    monkeypatch.setenv(distributed.NPROC_ENV, "4")
    assert distributed.requested_processes() == 4
    monkeypatch.setenv("WORLD_SIZE", "4")  # already one of the 4: no torchrun inside torchrun
    assert distributed.requested_processes() == 1
    monkeypatch.delenv("WORLD_SIZE")
    monkeypatch.setenv(distributed.NPROC_ENV, "four")
    with pytest.raises(ValueError, match="SLIMNLP_NPROC_PER_NODE='four' must be an integer"):
        distributed.requested_processes()


def test_torchrun_command_runs_this_python_with_n_processes(tmp_path):
    command = distributed.torchrun_command(4, tmp_path / "request.json")
    assert command[:3] == [sys.executable, "-m", "torch.distributed.run"]
    assert command[command.index("--nproc_per_node") + 1] == "4"
    assert command[-3:] == ["-m", "slimnlp.steps.component_worker", str(tmp_path / "request.json")]


def test_shard_weights_average_to_the_whole_batch():
    rows = list(range(5))
    shares = [distributed.shard(rows, distributed.Processes(rank, 2, rank, "gloo")) for rank in (0, 1)]
    assert [r for r, _ in shares] == [[0, 2, 4], [1, 3]]
    assert sum(w for _, w in shares) / 2 == pytest.approx(1.0)
    # a last batch smaller than the world: the process without rows computes row 0 at weight 0
    assert distributed.shard([7], distributed.Processes(1, 2, 1, "gloo")) == ([7], 0.0)
    assert distributed.shard(rows, distributed.Processes()) == (rows, 1.0)
