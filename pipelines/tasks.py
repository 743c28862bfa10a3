"""How a KFP task of a slimnlp step is set up on a cluster: display name, caching, resources, retries,
secrets; for the training steps /dev/shm and the GPU request. Shared by the compress and grid pipelines.

No `from __future__ import annotations`: KFP reads annotations as objects.
"""

from typing import TYPE_CHECKING

from kfp import dsl, kubernetes

from slimnlp.mlops.lineage import KFP_RUN_ENV
from slimnlp.steps.spec import GPU_STEPS, SIDE_EFFECT_STEPS

if TYPE_CHECKING:
    from slimnlp.config import KubernetesConfig

# Never cached: resolve-config (it fingerprints the data and opens the run's MLflow parent run, so
# it must look every time) and the steps with side effects outside their output (promote moves
# registry aliases: a cache hit would skip that). Every other step receives only the config it
# reads and the data's fingerprint, so KFP's cache key changes exactly when its result could.
NEVER_CACHED = ("resolve-config", *SIDE_EFFECT_STEPS)
# The pod's KFP run id (a label the KFP backend puts on every pod of a run), as an environment
# variable through the downward API: a step finds its MLflow parent run by it without taking the
# run id as an input, which would change its cache key every run (slimnlp.mlops.lineage).
KFP_RUN_LABEL = "metadata.labels['pipeline/runid']"


def configure_task(task: dsl.PipelineTask, step: str, k8s: "KubernetesConfig") -> dsl.PipelineTask:
    """Display name, caching, resources, retries; for training steps /dev/shm and the GPU settings.

    Every rule keys off the step name, so a step added to the DAG later picks up the rules of its
    kind (GPU_STEPS, SIDE_EFFECT_STEPS in the step list) without touching this function.
    """
    task.set_display_name(step)
    task.set_caching_options(step not in NEVER_CACHED)
    kubernetes.use_field_path_as_env(task, KFP_RUN_ENV, KFP_RUN_LABEL)
    task.set_cpu_request(k8s.cpu_request)
    if k8s.cpu_limit:
        task.set_cpu_limit(k8s.cpu_limit)
    task.set_memory_request(k8s.memory_request)
    task.set_memory_limit(k8s.memory_limit)
    for name, value in k8s.env.items():
        task.set_env_variable(name, value)
    if k8s.s3_secret:
        keys = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
        kubernetes.use_secret_as_env(task, k8s.s3_secret, secret_key_to_env={k: k for k in keys})
    if k8s.retries and step not in SIDE_EFFECT_STEPS:
        # Steps write only their own output directory, so a rerun after an evicted pod is safe.
        task.set_retry(
            num_retries=k8s.retries,
            backoff_duration=f"{k8s.retry_backoff_s}s",
            backoff_factor=k8s.retry_backoff_factor,
            backoff_max_duration=f"{k8s.retry_backoff_max_s}s",
        )
    if step not in GPU_STEPS:
        return task
    if k8s.shm_size:
        # PyTorch DataLoader workers pass batches through /dev/shm; the container default is 64M.
        kubernetes.empty_dir_mount(
            task, volume_name="dshm", mount_path="/dev/shm", medium="Memory", size_limit=k8s.shm_size
        )
    if k8s.accelerator_limit == 0:
        return task  # CPU-only: no GPU request, and no pinning to GPU nodes either
    task.set_accelerator_type(k8s.accelerator_type)
    task.set_accelerator_limit(k8s.accelerator_limit)
    if k8s.accelerator_limit > 1:  # one DDP process per GPU (slimnlp.training.distributed)
        task.set_env_variable("SLIMNLP_NPROC_PER_NODE", str(k8s.accelerator_limit))
    for key, value in k8s.node_selector.items():
        kubernetes.add_node_selector(task, label_key=key, label_value=value)
    for toleration in k8s.tolerations:
        kubernetes.add_toleration(task, **_toleration_kwargs(toleration))
    return task


def _toleration_kwargs(toleration: dict[str, str]) -> dict[str, object]:
    """Map a config toleration (Kubernetes field names) onto `kubernetes.add_toleration` arguments."""
    from slimnlp.config import ConfigError

    names = {
        "key": "key",
        "operator": "operator",
        "value": "value",
        "effect": "effect",
        "tolerationSeconds": "toleration_seconds",
        "toleration_seconds": "toleration_seconds",
    }
    unknown = sorted(set(toleration) - set(names))
    if unknown:
        raise ConfigError(
            f"kubernetes.tolerations has unknown field(s) {unknown}; "
            f"allowed: key, operator, value, effect, tolerationSeconds"
        )
    kwargs: dict[str, object] = {names[k]: v for k, v in toleration.items()}
    if "toleration_seconds" in kwargs:
        kwargs["toleration_seconds"] = int(kwargs["toleration_seconds"])
    return kwargs
