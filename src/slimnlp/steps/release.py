"""The promote step: register the student and gate its promotion."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from slimnlp.config import RunConfig
from slimnlp.mlops import tracking
from slimnlp.mlops.lineage import close_pipeline_run, lineage_tags
from slimnlp.steps.common import make_output_dir, step_body


def promote(
    cfg: RunConfig,
    data_dir: str | Path,
    teacher_dir: str | Path,
    student_onnx_dir: str | Path,
    results_dir: str | Path,
    out_dir: str | Path,
    *,
    parent_run_id: str | None = None,
) -> dict[str, Any]:
    """Register the student's ONNX export as an MLflow pyfunc version (alias challenger) and make it
    champion when the gate passes (slimnlp.promote.promotion); out_dir holds decision.json and the model."""
    from slimnlp.promote import promotion, registry

    out = make_output_dir(out_dir)
    if not cfg.registry.enabled:
        result: dict[str, Any] = {"registered": False, "reason": "registry.enabled is false"}
        promotion.write_decision(out, result)
        print(promotion.format_decision(result), flush=True)
        _close_pipeline_run(cfg, parent_run_id)
        return {"promoted": 0}
    client = registry.connect(tracking.tracking_uri(cfg))  # a dead server fails here, in seconds
    with step_body(cfg, "promote", out, parent_run_id, registered_model=registry.model_name(cfg)) as (
        run,
        out,
    ):
        result = promotion.promote_student(
            cfg,
            client,
            run,
            data_dir,
            teacher_dir,
            student_onnx_dir,
            results_dir,
            out,
            parent_run_id=tracking.resolve_parent_run_id(parent_run_id),
        )
        # One lineage: the version carries the KFP run and the MLflow parent run it came from.
        result["lineage"] = lineage_tags(client, run.parent_id)
        for key, value in result["lineage"].items():
            client.set_model_version_tag(result["name"], result["version"], key, value)
        promotion.write_decision(out, result)
        print(promotion.format_decision(result), flush=True)
        metrics = {"promoted": int(result["promoted"]), "registered_version": int(result["version"])}
        run.finish(out, metrics, log_output=False)
    close_pipeline_run(client, run.parent_id)  # the last step: a parent the pipeline opened ends here
    return {**metrics, "decision": result}


def _close_pipeline_run(cfg: RunConfig, parent_run_id: str | None) -> None:
    import mlflow

    from slimnlp.mlops.lineage import kfp_parent

    client = mlflow.MlflowClient(tracking.tracking_uri(cfg))
    close_pipeline_run(client, tracking.resolve_parent_run_id(parent_run_id) or kfp_parent(client))
