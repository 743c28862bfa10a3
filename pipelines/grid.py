"""The reference paper's experiment grid as one KFP pipeline run.

    slimnlp run --config configs/paper-grid.yaml          # kfp.local, on this machine
    slimnlp compile --config configs/paper-grid.yaml --out grid.yaml

One prepare-data and one teacher, then a `dsl.ParallelFor` branch per (pruning level, KD or not,
precision) of `grid` in the run config: block-movement prune -> finetune-amp -> export-onnx ->
benchmark (the same harness as the compress pipeline, the teacher measured beside each student)
-> grid-row; then one grid-collect task gathers every row into a table and a plot.

The branches are read from the config when the pipeline is built (a ParallelFor over constants);
each branch's own settings travel as the JSON config a grid-branch-config task makes from
`config_json`, so its steps run unchanged. No `from __future__ import annotations`: KFP reads the
pipeline function's annotations as objects.
"""

from collections.abc import Callable
from typing import TYPE_CHECKING

from kfp import dsl
from kfp.dsl import Artifact

from slimnlp.grid.branches import branches
from slimnlp_components import make_components
from slimnlp_pipelines.tasks import configure_task

if TYPE_CHECKING:
    from slimnlp.config import RunConfig

PIPELINE_NAME = "slimnlp-grid"


def build_grid_pipeline(cfg: "RunConfig") -> Callable:
    """The grid pipeline for one run config (branches, images and cluster settings baked in).

    Args:
        cfg: The run config; `cfg.grid` lists the branches, its JSON is the `config_json` default.

    Returns:
        The `@dsl.pipeline` function; it returns the grid-collect output (grid.md/.csv/.json/.png).
    """
    components = make_components(cfg.kubernetes)
    k8s = cfg.kubernetes
    items = branches(cfg)

    @dsl.pipeline(
        name=PIPELINE_NAME,
        description="The paper's grid: pruning level x KD x precision, one teacher, one results table.",
    )
    def grid_pipeline(
        config_json: str = cfg.to_json(), parent_run_id: str = "", tracking_uri: str = ""
    ) -> Artifact:
        def step(name: str, config: object, **inputs: object) -> dsl.PipelineTask:
            component = components[name]
            task = component(
                config_json=config, parent_run_id=parent_run_id, tracking_uri=tracking_uri, **inputs
            )
            return configure_task(task, name, k8s)

        data = step("prepare-data", config_json).outputs["data"]
        pretrained = {}
        if cfg.pretrain.enabled:
            pretrained["pretrained"] = step("pretrain-mlm", config_json, data=data).outputs["model"]
        teacher = step("train-teacher", config_json, data=data, **pretrained).outputs["model"]
        with dsl.ParallelFor(items=items, parallelism=cfg.grid.parallelism, name="grid-branch") as branch:
            branch_cfg = components["grid-branch-config"](config_json=config_json, branch=branch)
            branch_json = configure_task(branch_cfg, "grid-branch-config", k8s).output
            pruned = step("prune", branch_json, data=data, teacher=teacher).outputs["model"]
            student = step("finetune-amp", branch_json, data=data, teacher=teacher, student=pruned)
            student = student.outputs["model"]
            onnx = step("export-onnx", branch_json, data=data, model=student).outputs["onnx"]
            bench = step(
                "benchmark", branch_json, data=data, teacher=teacher, student=student, student_onnx=onnx
            )
            row = step(
                "grid-row",
                branch_json,
                branch=branch,
                pruned=pruned,
                student=student,
                results=bench.outputs["results"],
            )
        collect = step("grid-collect", config_json, rows=dsl.Collected(row.outputs["row"]))
        return collect.outputs["report"]

    return grid_pipeline
