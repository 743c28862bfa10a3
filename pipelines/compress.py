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

from kfp import compiler, dsl
from kfp.dsl import Artifact

from slimnlp.steps.spec import GPU_STEPS, STEP_NAMES, dag_steps
from slimnlp_components import make_components
from slimnlp_pipelines.candidates import REPLACED, add_candidate_recovery, candidate_components, recover_top_k
from slimnlp_pipelines.tasks import configure_task

if TYPE_CHECKING:
    from slimnlp.config import RunConfig

PIPELINE_NAME = "slimnlp-compress"

# The tasks in DAG order; task names, display names and CLI verbs are the same words (the step list,
# slimnlp.steps.spec). The steps that train ask for a GPU; the others run on CPU nodes. Steps with
# side effects outside their own output (moving MLflow registry aliases) never retry and never cache:
# a retry could apply them twice, and a cache hit would skip them.
STEPS = STEP_NAMES
TRAINING_STEPS = GPU_STEPS


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
    recovery = recover_top_k(cfg) > 1  # NAS choose-after-recovery (pipelines/candidates.py)
    if recovery:
        components |= candidate_components(k8s)

    @dsl.pipeline(
        name=PIPELINE_NAME,
        description="Compress a text classifier: prune, distill, AMP fine-tune, ONNX, benchmark.",
    )
    def compress(
        config_json: str = cfg.to_json(), parent_run_id: str = "", tracking_uri: str = ""
    ) -> Artifact:
        def step(name: str, **inputs: object) -> dsl.PipelineTask:
            component = components[name]
            task = component(
                config_json=config_json, parent_run_id=parent_run_id, tracking_uri=tracking_uri, **inputs
            )
            return configure_task(task, name, k8s)

        # Every input is the output of the step the list names as its producer; a step that is not
        # in this DAG (pretrain-mlm unless pretrain.enabled, read when the pipeline is built) leaves
        # its optional consumers' inputs out.
        outputs: dict[str, object] = {}
        for spec in dag_steps(cfg):
            if recovery and spec.name in REPLACED:
                continue
            inputs = {i.name: outputs[i.producer] for i in spec.inputs if i.producer in outputs}
            outputs[spec.name] = step(spec.name, **inputs).outputs[spec.output]
            if recovery and spec.name == "prune":
                add_candidate_recovery(cfg, step, outputs)
        return outputs["benchmark"]

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
    if cfg.grid.enabled:  # the paper's grid (pipelines/grid.py)
        from slimnlp_pipelines.grid import build_grid_pipeline

        pipeline_func = build_grid_pipeline(cfg)
    compiler.Compiler().compile(pipeline_func=pipeline_func, package_path=str(out))
    return out
