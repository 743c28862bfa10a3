"""Cluster settings used by `slimnlp compile`: images, GPUs, resources, retries."""

from __future__ import annotations

from dataclasses import dataclass

from slimnlp.config.base import Section, _help, _require

# A Kubernetes resource quantity (what the API server accepts for requests, limits and sizes).
QUANTITY = {
    "pattern": r"[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?",
    "means": "a Kubernetes quantity such as 2, 500m, 8G or 2Gi",
}


@dataclass(frozen=True)
class KubernetesConfig(Section):
    image: str = _help(
        "Image every component runs in (point it at your registry).", "ghcr.io/slimnlp/slimnlp:0.1.0"
    )
    gpu_image: str | None = _help(
        "Image of the training steps (CUDA PyTorch, onnxruntime-gpu; docker/Dockerfile.gpu); None = image.",
        "ghcr.io/slimnlp/slimnlp:0.1.0-cuda",
    )
    accelerator_type: str = _help("Accelerator resource of the training steps.", "nvidia.com/gpu")
    accelerator_limit: int = _help(
        "GPUs per training step (0 = CPU only; N > 1 runs N DDP processes in the pod).", 1, ge=0
    )
    node_selector: dict[str, str] = _help(
        "Node selector of the training steps.", factory=lambda: {"nvidia.com/gpu.present": "true"}
    )
    tolerations: list[dict[str, str]] = _help(
        "Tolerations of the training steps.",
        factory=lambda: [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
    )
    cpu_request: str = _help("CPU request of every step.", "2", **QUANTITY)
    cpu_limit: str | None = _help("CPU limit of every step; None = no limit.", "8", **QUANTITY)
    memory_request: str = _help("Memory request of every step.", "8G", **QUANTITY)
    memory_limit: str = _help("Memory limit of every step.", "16G", **QUANTITY)
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
        **QUANTITY,
    )
    retries: int = _help(
        "Retries of a failed step (pod evicted, node lost); steps with side effects never retry.", 2, ge=0
    )
    retry_backoff_s: int = _help(
        "Seconds before the first retry (then times retry_backoff_factor).", 60, ge=0
    )
    retry_backoff_factor: float = _help("Backoff multiplier between retries.", 2.0, ge=1)
    retry_backoff_max_s: int = _help("Stop retrying this many seconds after the first failure.", 3600, ge=0)

    def check(self) -> None:
        _require(
            self.retry_backoff_max_s >= self.retry_backoff_s,
            "retry_backoff_max_s",
            f"must be >= retry_backoff_s ({self.retry_backoff_s}), got {self.retry_backoff_max_s}",
        )
