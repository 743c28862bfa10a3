"""Data-parallel training under `torchrun`: one process per device, gradients averaged by DDP.

    torchrun --nproc_per_node 2 -m slimnlp_pipelines.cli pretrain-mlm --config C --data D --out O

Nothing to configure: `torchrun` sets WORLD_SIZE/RANK/LOCAL_RANK, and the training loops
(`slimnlp.training.loop.train_classifier`, `slimnlp.pretrain.mlm.run_mlm`) then join a process group
(gloo on CPU, NCCL on CUDA, one GPU per process by LOCAL_RANK). Without torchrun (WORLD_SIZE unset or
1) everything here is a no-op and the loops run exactly as before.

How a step stays the same step with N processes:
- Every process draws the same global batch (same seed, same order; the MLM collator's masks too)
  and keeps its rows `rank::N`. Each process's loss is weighted by its share of the batch
  (`shard_weight`), so DDP's average of gradients equals the gradient of the one-process batch: with
  dropout off the loss curve of 2 processes matches 1 process to float rounding
  (tests/training/test_ddp.py states the tolerance).
- Rank 0 alone writes: checkpoints, the model directory, metrics.json and the one MLflow run; the
  other ranks' step bodies write into a scratch folder that is removed (`follower_step`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Processes:
    """This process's place in the job: rank, world size, local rank and the collective backend."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str = ""

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    try:
        return int(value) if value else default
    except ValueError:
        raise ValueError(
            f"environment variable {name}={value!r} must be an integer (set by torchrun)"
        ) from None


def processes() -> Processes:
    """The job's processes from torchrun's environment, joining the process group on first call
    (gloo on CPU, NCCL when CUDA is available; each process then uses cuda:LOCAL_RANK)."""
    import torch
    import torch.distributed as dist

    world = _env_int("WORLD_SIZE", 1)
    if world <= 1:
        return Processes()
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(_env_int("LOCAL_RANK", 0))
        dist.init_process_group(backend)
    return Processes(dist.get_rank(), dist.get_world_size(), _env_int("LOCAL_RANK", 0), dist.get_backend())


def is_main_process() -> bool:
    """True outside torchrun and on rank 0 (the only process that writes files and MLflow runs)."""
    return _env_int("RANK", 0) == 0


def device_for(job: Processes, default: str) -> str:
    """cuda:LOCAL_RANK for a distributed CUDA job, else `default`."""
    return f"cuda:{job.local_rank}" if job.distributed and default.startswith("cuda") else default


def shard(rows: list[int], job: Processes) -> tuple[list[int], float]:
    """This process's rows of a global batch and the weight of its mean loss, such that the average
    of the weighted losses over processes is the mean loss over the whole batch. A process left
    without rows (a last batch smaller than the world) computes row 0 at weight 0."""
    if not job.distributed:
        return rows, 1.0
    mine = rows[job.rank :: job.world_size]
    if not mine:
        return rows[:1], 0.0
    return mine, len(mine) * job.world_size / len(rows)


def wrap(module: Any, job: Processes) -> Any:
    """The module in DistributedDataParallel for a distributed job (else itself)."""
    if not job.distributed:
        return module
    from torch.nn.parallel import DistributedDataParallel

    ids = [job.local_rank] if job.backend == "nccl" else None
    return DistributedDataParallel(module, device_ids=ids)


def sum_over_processes(value: float, job: Processes) -> float:
    """`value` summed over every process (itself when not distributed)."""
    if not job.distributed:
        return value
    import torch
    import torch.distributed as dist

    device = f"cuda:{job.local_rank}" if job.backend == "nccl" else "cpu"
    tensor = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return float(tensor.item())


def broadcast(value: Any, job: Processes) -> Any:
    """Rank 0's `value` on every process (a picklable object, e.g. a dev-metrics record)."""
    if not job.distributed:
        return value
    import torch.distributed as dist

    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


@contextlib.contextmanager
def step_rng(job: Processes, seed: int, step: int, device: str) -> Iterator[None]:
    """In a distributed job, the forward and backward pass draw dropout from a stream of their own
    (seed, step, rank) and leave the shared stream alone: every process keeps drawing the same
    batches and masks as rank 0. A single process is left exactly as it was."""
    if not job.distributed:
        yield
        return
    import torch

    devices = [torch.device(device).index or 0] if device.startswith("cuda") else []
    with torch.random.fork_rng(devices=devices, device_type="cuda" if devices else "cpu"):
        torch.manual_seed(seed * 1_000_003 + step * 1_009 + job.rank)
        yield


def barrier(job: Processes) -> None:
    if job.distributed:
        import torch.distributed as dist

        dist.barrier()


# --------------------------------------------------------------------------------------------------
# Steps under torchrun: rank 0 writes, the others compute


@dataclass
class FollowerRun:
    """What a step logs through on ranks > 0: nothing reaches MLflow (rank 0 has the one run)."""

    run_id: str = ""
    energy: dict[str, Any] = field(default_factory=dict)

    def finish(self, out_dir: Path, metrics: dict[str, Any], log_output: bool = True) -> dict[str, Any]:
        return metrics

    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None: ...

    def log_params(self, params: dict[str, Any]) -> None: ...

    def log_dict(self, values: dict[str, Any], name: str) -> None: ...

    def log_artifacts(self, local_dir: str | Path, artifact_path: str | None = None) -> None: ...

    def log_artifact(self, local_file: str | Path, artifact_path: str | None = None) -> None: ...


@contextlib.contextmanager
def follower_step() -> Iterator[tuple[FollowerRun, Path]]:
    """The step body of a rank > 0: a run that logs nothing and a scratch output folder, removed at
    the end, so that the step's own code needs no branch on the rank."""
    scratch = Path(tempfile.mkdtemp(prefix=f"slimnlp-rank{_env_int('RANK', 0)}-"))
    try:
        yield FollowerRun(), scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


# --------------------------------------------------------------------------------------------------
# On the cluster: `kubernetes.accelerator_limit: N` > 1 starts N processes in the step's pod

# Set on a GPU step's task by pipelines/tasks.py (visible in the compiled pipeline).
NPROC_ENV = "SLIMNLP_NPROC_PER_NODE"


def requested_processes() -> int:
    """Processes the pod asks for (NPROC_ENV), when this process is not already one of them."""
    if "WORLD_SIZE" in os.environ:
        return 1
    return max(1, _env_int(NPROC_ENV, 1))


def torchrun_command(nproc: int, request_file: Path) -> list[str]:
    """torchrun on this machine with `nproc` processes, each running one component request."""
    import sys

    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc),
            "-m", "slimnlp.steps.component_worker", str(request_file)]  # fmt: skip


def run_component_processes(nproc: int, step: str, kwargs: dict[str, Any]) -> dict[str, float]:
    """Run `slimnlp.steps.entry.run_component(step, **kwargs)` in `nproc` processes under torchrun
    and return rank 0's result (the component's metrics)."""
    import json
    import subprocess

    folder = Path(tempfile.mkdtemp(prefix="slimnlp-torchrun-"))
    request = folder / "request.json"
    request.write_text(json.dumps({"step": step, "kwargs": kwargs, "result": str(folder / "result.json")}))
    print(f"{step}: {nproc} processes under torchrun ({NPROC_ENV}={nproc})", flush=True)
    try:
        subprocess.run(torchrun_command(nproc, request), check=True)
        return json.loads((folder / "result.json").read_text(encoding="utf-8"))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
