"""The run's first task: the typed parameters applied to the compiled config, one config per step,
the data's fingerprint and the MLflow parent run. Never cached: it is what decides the others' keys.

Same shape as `slimnlp_components.steps` (imports inside the body; `make_components` applies
`dsl.component`). Its outputs are one config JSON per step of `slimnlp.steps.spec.STEPS` and `CANDIDATE_STEPS` (field =
step name with '_' for '-'; tests/pipelines/test_pipeline_compile.py checks them against the list)
and `data_fingerprint`. No `from __future__ import annotations`: KFP reads the annotations as objects.
"""

from typing import NamedTuple


def resolve_config(
    base_config: str,
    parameters: dict,
    overrides: list,
    parent_run_id: str,
    tracking_uri: str,
    kfp_run_id: str,
    kfp_run_name: str,
    kfp_host: str,
    cache: bool,
) -> NamedTuple(
    "StepConfigs",
    [
        ("prepare_data", str),
        ("pretrain_mlm", str),
        ("train_teacher", str),
        ("prune", str),
        ("distill", str),
        ("finetune_amp", str),
        ("export_onnx", str),
        ("benchmark", str),
        ("promote", str),
        ("recover_candidate", str),
        ("select_student", str),
        ("data_fingerprint", str),
    ],
):
    """Apply the run's parameters and overrides, slice the config per step, fingerprint the data and
    open (or tag) the MLflow parent run with the KFP run's id, name and UI URL
    (slimnlp.mlops.run_parameters.resolve_run).

    Args:
        base_config: The compiled config as JSON (the default of every parameter).
        parameters: The typed pipeline parameters by name (slimnlp.mlops.run_parameters.PARAMETERS).
        overrides: `key.path=value` strings applied last, as `--set`.
        parent_run_id: MLflow parent run to log under; "" = MLFLOW_RUN_ID, else a new one.
        tracking_uri: MLflow tracking URI; "" keeps the environment's or the config's.
        kfp_run_id: This KFP run's id (dsl.PIPELINE_JOB_ID_PLACEHOLDER).
        kfp_run_name: This KFP run's name (dsl.PIPELINE_JOB_NAME_PLACEHOLDER).
        kfp_host: The KFP UI's address (its run page goes on every MLflow run); "" = unknown.
        cache: False makes the data fingerprint unique to this run, so no step is reused.

    Returns:
        One config JSON per step (what it reads, and where it logs) and the data's fingerprint.
    """
    from slimnlp.mlops.run_parameters import resolve_run

    return resolve_run(
        base_config,
        parameters,
        overrides,
        parent_run_id,
        tracking_uri,
        kfp_run_id,
        kfp_run_name,
        kfp_host,
        cache,
    )
