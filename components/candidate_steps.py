"""The NAS choose-after-recovery components (pipelines/candidates.py): one recover-candidate per
candidate the prune step wrote, then select-student.

Same shape as `slimnlp_components.steps`: each function is the body of one `@dsl.component` that
imports slimnlp inside and runs `slimnlp.steps.entry.run_component`. No `from __future__ import
annotations` here: KFP reads the Input/Output annotations as objects.
"""

from kfp.dsl import Dataset, Input, Metrics, Model, Output


def recover_candidate(
    config_json: str,
    parent_run_id: str,
    tracking_uri: str,
    candidate: int,
    data: Input[Dataset],
    teacher: Input[Model],
    pruned: Input[Model],
    model: Output[Model],
    metrics: Output[Metrics],
    data_fingerprint: str = "",
):
    """Distill then finetune-amp one NAS candidate (slimnlp.steps.recover_candidate).

    Args:
        config_json: The step's config as JSON (what it reads, and where it logs).
        parent_run_id: MLflow parent run id; "" falls back to MLFLOW_RUN_ID.
        tracking_uri: MLflow tracking URI; "" keeps the environment's or the config's.
        candidate: The candidate's index in the prune output's candidates/candidates.json.
        data: The prepare-data output.
        teacher: The teacher model directory (KD terms, the selection rows' reference).
        pruned: The prune output (candidates/<i>/ model directories).
        model: Output model directory: the recovered candidate (its better stage), recovery.json.
        metrics: The stages' accuracies on the selection rows, the stage kept, the wall time.
    """
    from slimnlp.steps.entry import run_component

    for name, value in run_component(
        "recover-candidate",
        config_json,
        parent_run_id,
        tracking_uri,
        model.path,
        candidate=candidate,
        data=data.path,
        teacher=teacher.path,
        pruned=pruned.path,
    ).items():
        metrics.log_metric(name, value)


def select_student(
    config_json: str,
    parent_run_id: str,
    tracking_uri: str,
    data: Input[Dataset],
    teacher: Input[Model],
    pruned: Input[Model],
    recovered: Input[list[Model]],
    model: Output[Model],
    metrics: Output[Metrics],
    data_fingerprint: str = "",
):
    """The fastest recovered candidate within the budget, else the most accurate (slimnlp.steps.select_student).

    Args:
        config_json: The step's config as JSON (what it reads, and where it logs).
        parent_run_id: MLflow parent run id; "" falls back to MLFLOW_RUN_ID.
        tracking_uri: MLflow tracking URI; "" keeps the environment's or the config's.
        data: The prepare-data output (the selection rows of dev).
        teacher: The teacher model directory (the paired reference).
        pruned: The prune output (candidates.json: budget, confidence, latencies).
        recovered: The recover-candidate outputs (dsl.Collected).
        model: Output model directory: the student, with candidates_artifacts/.
        metrics: The student's index, whether it holds the budget, its paired bounds, the wall time.
    """
    from slimnlp.steps.entry import run_component

    for name, value in run_component(
        "select-student",
        config_json,
        parent_run_id,
        tracking_uri,
        model.path,
        data=data.path,
        teacher=teacher.path,
        pruned=pruned.path,
        recovered=[r.path for r in recovered],
    ).items():
        metrics.log_metric(name, value)
