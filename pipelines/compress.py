"""The compress pipeline: resolve-config -> prepare-data -> train-teacher -> prune -> distill ->
finetune-amp -> export-onnx -> benchmark -> promote, as a KFP v2 pipeline built from one run config.

    slimnlp compile --config configs/default.yaml --set kubernetes.accelerator_limit=2 --out pipeline.yaml

The config it is compiled with is the default of every run. What people change per run is a typed
parameter (`slimnlp.mlops.run_parameters.PARAMETERS`: data location, teacher checkpoint, pruning
method, accuracy budget, registered model name) or an `overrides` entry in `--set` form. The
never-cached `resolve-config` task applies them, fingerprints the data and hands each step only the
config it reads, so KFP's cache key of a step changes exactly when its result could: same data and
settings reuse the teacher; new bytes behind the same URI rerun from prepare-data. Cluster settings
(images, GPUs, node selector, tolerations, requests: `kubernetes.*`) are fixed here, at compile time.

No `from __future__ import annotations`: KFP reads the pipeline function's annotations as objects.
"""

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from kfp import compiler, dsl
from kfp.dsl import Artifact

from slimnlp.mlops.run_parameters import PARAMETERS, parameter_defaults
from slimnlp.steps.spec import dag_steps
from slimnlp_components import make_components
from slimnlp_pipelines.candidates import (
    REPLACED,
    add_candidate_recovery,
    candidate_components,
    candidate_pipeline,
    recover_top_k,
)
from slimnlp_pipelines.tasks import configure_task

if TYPE_CHECKING:
    from slimnlp.config import RunConfig

PIPELINE_NAME = "slimnlp-compress"
# Run parameters beside the typed ones: --set-style overrides, and where the MLflow runs go.
EXTRA_PARAMETERS = (
    ("overrides", list, []),
    ("parent_run_id", str, ""),
    ("tracking_uri", str, ""),
    ("kfp_host", str, ""),
    ("cache", bool, True),
)


def pipeline_parameters(cfg: "RunConfig") -> list[tuple[str, type, object]]:
    """(name, type, default) of every run parameter, the typed ones defaulting to the compiled config."""
    defaults = parameter_defaults(cfg)
    return [(p.name, p.type, defaults[p.name]) for p in PARAMETERS] + list(EXTRA_PARAMETERS)


def describe_parameters(cfg: "RunConfig") -> str:
    """What `slimnlp compile` prints: the run parameters with their defaults, and what is fixed."""
    helps = {p.name: f"{p.help} ({p.key})" for p in PARAMETERS} | {
        "overrides": "list of key.path=value, applied last (as --set)",
        "parent_run_id": "MLflow run to log under; empty: the pipeline opens one",
        "tracking_uri": "MLflow tracking URI the steps log to",
        "kfp_host": "KFP UI address; each MLflow run links its KFP run page",
        "cache": "false: every step runs (submit --no-cache)",
    }
    lines = ["run parameters (slimnlp submit --param NAME=VALUE; default = this config):"]
    for name, kind, default in pipeline_parameters(cfg):
        lines.append(f"  {name:22s} {kind.__name__:5s} default {default!r:28s} {helps[name]}")
    k8s = cfg.kubernetes
    lines += [
        "fixed at compile time (kubernetes.*; change them and compile again, or submit with --set):",
        f"  image {k8s.image}, gpu_image {k8s.gpu_image or k8s.image}, accelerator_limit {k8s.accelerator_limit}, "
        f"node_selector {k8s.node_selector or '-'}, tolerations {len(k8s.tolerations)}, cpu/memory requests "
        f"{k8s.cpu_request}/{k8s.memory_request}, retries {k8s.retries}, s3_secret {k8s.s3_secret or '-'}",
    ]
    return "\n".join(lines)


def build_pipeline(cfg: "RunConfig") -> Callable:
    """The compress pipeline for one run config (its defaults, images and cluster settings baked in).

    Args:
        cfg: The run config: the default of every run parameter, and the cluster settings.

    Returns:
        The `@dsl.pipeline` function. It returns the benchmark output (results.json inside), which
        is how a local run finds the results.
    """
    components = make_components(cfg.kubernetes)
    k8s = cfg.kubernetes
    parameters = pipeline_parameters(cfg)
    steps = dag_steps(cfg)
    recovery = recover_top_k(cfg) > 1  # NAS choose-after-recovery (pipelines/candidates.py)
    if recovery:
        components |= candidate_components(k8s)
        nas_candidates = candidate_pipeline(cfg, components)

    def compress(*values: object) -> Artifact:
        run = dict(zip([name for name, _, _ in parameters], values, strict=True))
        typed = {p.name: run[p.name] for p in PARAMETERS}

        # 1. The run's config: parameters applied, one slice per step, the data fingerprint, the
        #    MLflow parent run tagged with this KFP run. Never cached: it decides every other key.
        resolve = components["resolve-config"](
            base_config=cfg.to_json(),
            parameters=typed,
            overrides=run["overrides"],
            parent_run_id=run["parent_run_id"],
            tracking_uri=run["tracking_uri"],
            kfp_run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER,
            kfp_run_name=dsl.PIPELINE_JOB_NAME_PLACEHOLDER,
            kfp_host=run["kfp_host"],
            cache=run["cache"],
        )
        configure_task(resolve, "resolve-config", k8s)
        fingerprint = resolve.outputs["data_fingerprint"]

        # 2. The steps. Each gets its own config slice and the data fingerprint (its cache key) and
        #    finds its MLflow parent run by the KFP run id, not from an input. Every input is the
        #    output of the step the list names as its producer; a step not in this DAG
        #    (pretrain-mlm unless pretrain.enabled) leaves its optional consumers' inputs out.
        outputs: dict[str, object] = {}

        def common(name: str) -> dict[str, object]:
            """What every step task gets besides its artifacts: its config slice, the cache key."""
            return {
                "config_json": resolve.outputs[name.replace("-", "_")],
                "parent_run_id": "",
                "tracking_uri": run["tracking_uri"],
                "data_fingerprint": fingerprint,
            }

        def step(name: str, **inputs: object) -> dsl.PipelineTask:
            return configure_task(components[name](**common(name), **inputs), name, k8s)

        for spec in steps:
            if recovery and spec.name in REPLACED:
                continue
            inputs = {i.name: outputs[i.producer] for i in spec.inputs if i.producer in outputs}
            outputs[spec.name] = step(spec.name, **inputs).outputs[spec.output]
            if recovery and spec.name == "prune":
                add_candidate_recovery(nas_candidates, common, outputs)
        return outputs["benchmark"]

    # KFP reads the parameters from the signature: one typed parameter each, defaults = the config.
    compress.__signature__ = inspect.Signature(
        [
            inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=d, annotation=t)
            for n, t, d in parameters
        ],
        return_annotation=Artifact,
    )
    compress.__annotations__ = {n: t for n, t, _ in parameters} | {"return": Artifact}
    return dsl.pipeline(
        name=PIPELINE_NAME,
        description="Compress a text classifier: prune, distill, AMP fine-tune, ONNX, benchmark, promote.",
    )(compress)


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
