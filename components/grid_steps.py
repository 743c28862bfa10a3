"""The paper grid's components (pipelines/grid.py): a config per branch, a row per branch, one table.

Same shape as `slimnlp_components.steps`: each function is the body of one `@dsl.component` that
imports slimnlp inside and runs `slimnlp.steps.entry.run_component`. No `from __future__ import
annotations` here: KFP reads the Input/Output annotations as objects.
"""

from kfp.dsl import Artifact, Input, Metrics, Model, Output


def grid_branch_config(config_json: str, branch: dict) -> str:
    """The run config JSON of one grid branch (slimnlp.steps.grid_branch_config).

    Args:
        config_json: The whole run config as JSON.
        branch: One `slimnlp.grid.branches.branches` item: id, sparsity, kd, precision.

    Returns:
        The branch's run config as JSON, passed to its prune/finetune-amp/export/benchmark tasks.
    """
    from slimnlp import steps
    from slimnlp.config import config_from_json

    return steps.grid_branch_config(config_from_json(config_json), branch)


def grid_row(
    config_json: str,
    parent_run_id: str,
    tracking_uri: str,
    branch: dict,
    pruned: Input[Model],
    student: Input[Model],
    results: Input[Artifact],
    row: Output[Artifact],
    metrics: Output[Metrics],
):
    """One grid branch's row of the results table (slimnlp.steps.grid_row).

    Args:
        config_json: The branch's run config as JSON.
        parent_run_id: MLflow parent run id; "" falls back to MLFLOW_RUN_ID.
        tracking_uri: MLflow tracking URI; "" keeps the environment's or the config's.
        branch: The branch (id, sparsity, kd, precision).
        pruned: The branch's prune output (sparsity reached, heads and neurons per layer).
        student: The branch's finetune-amp output (the precision that ran).
        results: The branch's benchmark output (student and teacher, same harness and rounds).
        row: Output directory: row.json.
        metrics: The row's numbers and the wall time (wall_time_s).
    """
    from slimnlp.steps.entry import run_component

    for name, value in run_component(
        "grid-row",
        config_json,
        parent_run_id,
        tracking_uri,
        row.path,
        branch=branch,
        pruned=pruned.path,
        student=student.path,
        results=results.path,
    ).items():
        metrics.log_metric(name, value)


def grid_collect(
    config_json: str,
    parent_run_id: str,
    tracking_uri: str,
    rows: Input[list[Artifact]],
    report: Output[Artifact],
    metrics: Output[Metrics],
):
    """Every branch's row in one table and one plot, logged to the parent run (slimnlp.steps.grid_collect).

    Args:
        config_json: The whole run config as JSON.
        parent_run_id: MLflow parent run id; "" falls back to MLFLOW_RUN_ID.
        tracking_uri: MLflow tracking URI; "" keeps the environment's or the config's.
        rows: The grid-row outputs of all branches (dsl.Collected).
        report: Output directory: grid.md, grid.csv, grid.json, grid.png.
        metrics: Per-branch accuracy, latency, speed-up and sparsity, and the wall time.
    """
    from slimnlp.steps.entry import run_component

    for name, value in run_component(
        "grid-collect", config_json, parent_run_id, tracking_uri, report.path, rows=[r.path for r in rows]
    ).items():
        metrics.log_metric(name, value)
