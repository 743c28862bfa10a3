"""Cluster settings used by `slimnlp compile`: images, GPUs, resources, retries."""

from __future__ import annotations

import re
from dataclasses import dataclass

from slimnlp.config.base import _help, _require


@dataclass(frozen=True)
class KubernetesConfig:
    image: str = _help(
        "Image every component runs in (point it at your registry).", "ghcr.io/slimnlp/slimnlp:0.1.0"
    )
    gpu_image: str | None = _help(
        "Image of the training steps (CUDA PyTorch, onnxruntime-gpu; docker/Dockerfile.gpu); None = image.",
        "ghcr.io/slimnlp/slimnlp:0.1.0-cuda",
    )
    accelerator_type: str = _help("Accelerator resource of the training steps.", "nvidia.com/gpu")
    accelerator_limit: int = _help(
        "GPUs per training step (0 = CPU only; N > 1 runs N DDP processes in the pod).", 1
    )
    node_selector: dict[str, str] = _help(
        "Node selector of the training steps.", factory=lambda: {"nvidia.com/gpu.present": "true"}
    )
    tolerations: list[dict[str, str]] = _help(
        "Tolerations of the training steps.",
        factory=lambda: [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
    )
    cpu_request: str = _help("CPU request of every step.", "2")
    cpu_limit: str | None = _help("CPU limit of every step; None = no limit.", "8")
    memory_request: str = _help("Memory request of every step.", "8G")
    memory_limit: str = _help("Memory limit of every step.", "16G")
    env: dict[str, str] = _help(
        "Environment variables of every step, e.g. {AWS_ENDPOINT_URL: http://seaweedfs.mlops.svc:8333}.",
        factory=dict,
    )
    s3_secret: str | None = _help(
        "Kubernetes Secret (in the namespace the pipeline runs in) whose AWS_ACCESS_KEY_ID and "
        "AWS_SECRET_ACCESS_KEY keys become environment variables of every step (data on s3://); "
        "None = none.",
        None,
    )
    shm_size: str | None = _help(
        "Size of the in-memory /dev/shm of the training steps (DataLoader workers share tensors "
        "through it; the container default is 64M). Counts against memory_limit. None = no mount.",
        "2Gi",
    )
    retries: int = _help(
        "Retries of a failed step (pod evicted, node lost); steps with side effects never retry.", 2
    )
    retry_backoff_s: int = _help("Seconds before the first retry (then times retry_backoff_factor).", 60)
    retry_backoff_factor: float = _help("Backoff multiplier between retries.", 2.0)
    retry_backoff_max_s: int = _help("Stop retrying this many seconds after the first failure.", 3600)

    def __post_init__(self) -> None:
        _require(self.accelerator_limit >= 0, "accelerator_limit", "must be >= 0")
        _require(self.retries >= 0, "retries", f"must be >= 0, got {self.retries}")
        _require(self.retry_backoff_s >= 0, "retry_backoff_s", f"must be >= 0, got {self.retry_backoff_s}")
        _require(
            self.retry_backoff_factor >= 1,
            "retry_backoff_factor",
            f"must be >= 1, got {self.retry_backoff_factor}",
        )
        _require(
            self.retry_backoff_max_s >= self.retry_backoff_s,
            "retry_backoff_max_s",
            f"must be >= retry_backoff_s ({self.retry_backoff_s}), got {self.retry_backoff_max_s}",
        )
        quantity = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")
        for name in ("cpu_request", "cpu_limit", "memory_request", "memory_limit", "shm_size"):
            value = getattr(self, name)
            _require(
                value is None or bool(quantity.match(str(value))),
                name,
                f"must be a Kubernetes quantity such as 2, 500m, 8G or 2Gi, got {value!r}",
            )
