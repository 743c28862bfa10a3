"""The compress pipeline: prepare-data -> train-teacher -> prune -> distill -> finetune-amp ->
export-onnx -> benchmark -> promote, as a KFP v2 pipeline built from one run config.

    slimnlp compile --config configs/default.yaml --set kubernetes.accelerator_limit=2 --out pipeline.yaml

The run config travels as the pipeline parameter `config_json` (its default is the config the
pipeline was compiled with), so a run on the cluster, a local run and the CLI steps read the same
settings. Cluster settings (images, GPUs, node selector, tolerations, requests) are applied here.

No `from __future__ import annotations`: KFP reads the pipeline function's annotations as objects.
"""

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from kfp import compiler, dsl, kubernetes
from kfp.dsl import Artifact

from slimnlp.step_entry import STEP_NAMES
from slimnlp_components import make_components

if TYPE_CHECKING:
    from slimnlp.config import KubernetesConfig, RunConfig

PIPELINE_NAME = "slimnlp-compress"

# The tasks in DAG order; task names, display names and CLI verbs are the same words.
STEPS = STEP_NAMES

# The steps that train and so ask for a GPU; the others run on CPU nodes.
TRAINING_STEPS = ("pretrain-mlm", "train-teacher", "prune", "distill", "finetune-amp")

# Steps with side effects outside their own output (moving MLflow registry aliases): a retry could
# apply them twice, and a cache hit would skip them, so they never retry and never cache.
SIDE_EFFECT_STEPS = ("promote",)

# Caching is off for every step. Each step logs a nested MLflow run under this run's parent, and
# a scheduled retrain passes the same config_json while the data behind data.dir may have changed:
# a cache hit would skip the retraining and leave the new parent run without its steps.
ENABLE_CACHING = False


def _configure(task: dsl.PipelineTask, step: str, k8s: "KubernetesConfig") -> dsl.PipelineTask:
    """Display name, caching, resources, retries; for training steps /dev/shm and the GPU settings.

    Every rule keys off the step name, so a step added to the DAG later picks up the rules of its
    kind (TRAINING_STEPS, SIDE_EFFECT_STEPS) without touching this function.
    """
    task.set_display_name(step)
    task.set_caching_options(ENABLE_CACHING and step not in SIDE_EFFECT_STEPS)
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
    if step not in TRAINING_STEPS:
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


def build_pipeline(cfg: "RunConfig") -> Callable:
    """The compress pipeline for one run config (images and cluster settings baked in).

    Args:
        cfg: The run config; its JSON becomes the default of the `config_json` parameter.

    Returns:
        The `@dsl.pipeline` function. It returns the benchmark output (results.json inside), which
        is how a local run finds the results.
    """
    components = make_components(cfg.kubernetes)
    k8s = cfg.kubernetes

    @dsl.pipeline(
        name=PIPELINE_NAME,
        description="Compress a text classifier: prune, distill, AMP fine-tune, ONNX, benchmark.",
    )
    def compress(
        config_json: str = cfg.to_json(), parent_run_id: str = "", tracking_uri: str = ""
    ) -> Artifact:
        def step(name: str, **inputs: object) -> dsl.PipelineTask:
            component = getattr(components, name.replace("-", "_"))
            task = component(
                config_json=config_json, parent_run_id=parent_run_id, tracking_uri=tracking_uri, **inputs
            )
            return _configure(task, name, k8s)

        data = step("prepare-data").outputs["data"]
        # pretrain.enabled is read when the pipeline is built: the DAG holds the step or not.
        pretrained = {}
        if cfg.pretrain.enabled:
            pretrained["pretrained"] = step("pretrain-mlm", data=data).outputs["model"]
        teacher = step("train-teacher", data=data, **pretrained).outputs["model"]
        pruned = step("prune", data=data, teacher=teacher).outputs["model"]
        distilled = step("distill", data=data, teacher=teacher, student=pruned).outputs["model"]
        student = step("finetune-amp", data=data, teacher=teacher, student=distilled).outputs["model"]
        onnx = step("export-onnx", data=data, model=student).outputs["onnx"]
        bench = step("benchmark", data=data, teacher=teacher, student=student, student_onnx=onnx)
        step("promote", data=data, teacher=teacher, student_onnx=onnx, results=bench.outputs["results"])
        return bench.outputs["results"]

    return compress


def compile_pipeline(cfg: "RunConfig", out: str | Path) -> Path:
    """Compile the pipeline for `cfg` to an IR YAML file (pipeline spec + Kubernetes platform spec).

    Args:
        cfg: The run config.
        out: Where to write the YAML.

    Returns:
        The written path.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    pipeline_func = build_pipeline(cfg)
    if cfg.grid.enabled:  # the paper's grid (pipelines/grid.py), which reuses _configure from here
        from slimnlp_pipelines.grid import build_grid_pipeline

        pipeline_func = build_grid_pipeline(cfg)
    compiler.Compiler().compile(pipeline_func=pipeline_func, package_path=str(out))
    return out
