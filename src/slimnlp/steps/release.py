"""The promote step: register the student and gate its promotion."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from slimnlp.config import RunConfig
from slimnlp.mlops import tracking
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
        promotion.write_decision(out, result)
        print(promotion.format_decision(result), flush=True)
        metrics = {"promoted": int(result["promoted"]), "registered_version": int(result["version"])}
        run.finish(out, metrics, log_output=False)
        return {**metrics, "decision": result}
