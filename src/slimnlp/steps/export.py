"""The export-onnx step."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from slimnlp import models
from slimnlp.config import RunConfig
from slimnlp.data import load_splits
from slimnlp.steps.common import finish_step, step_body


def export_onnx(
    cfg: RunConfig,
    data_dir: str | Path,
    model_dir: str | Path,
    out_dir: str | Path,
    *,
    parent_run_id: str | None = None,
) -> dict[str, Any]:
    """ONNX export with a parity check on real test texts (+ optional int8); out_dir holds model.onnx,
    model.int8.onnx and what serving needs (tokenizer, config, layout)."""
    from slimnlp.export.onnx import export_onnx_model

    with step_body(cfg, "export-onnx", out_dir, parent_run_id) as (run, out):
        _, _, test, _ = load_splits(data_dir)
        metrics = export_onnx_model(
            model_dir, out, test[0], cfg.export, labels=test[1], max_length=models.model_max_length(model_dir)
        )
        return finish_step(run, out, dict(metrics), model_dir=False)
