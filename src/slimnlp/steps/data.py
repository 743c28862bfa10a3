"""The prepare-data step: load, clean and split the labelled data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from slimnlp.config import RunConfig
from slimnlp.steps.common import finish_step, step_body


def prepare_data(cfg: RunConfig, out_dir: str | Path, *, parent_run_id: str | None = None) -> dict[str, Any]:
    """Load, clean and split the labelled data into out_dir (train/dev/test.arrow, label_map.json,
    data_report.json)."""
    from slimnlp.data import prepare_data_files

    with step_body(cfg, "prepare-data", out_dir, parent_run_id) as (run, out):
        report = prepare_data_files(cfg.data, out)
        run.log_dict(report, "data_report.json")
        return finish_step(run, out, dict(report), model_dir=False)
