"""The experiment grid's own steps (pipelines/grid.py wires them around the steps above)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from slimnlp.config import RunConfig
from slimnlp.mlops import tracking
from slimnlp.steps.common import finish_step, make_output_dir, step_body


def grid_branch_config(cfg: RunConfig, branch: dict[str, Any]) -> str:
    """The run config JSON of one grid branch (block movement at its sparsity, KD or not, its
    precision); the branch's steps run with it."""
    from slimnlp.grid.branches import branch_config

    return branch_config(cfg, branch).to_json()


def grid_row(
    cfg: RunConfig,
    branch: dict[str, Any],
    pruned_dir: str | Path,
    student_dir: str | Path,
    results_dir: str | Path,
    out_dir: str | Path,
    *,
    parent_run_id: str | None = None,
) -> dict[str, Any]:
    """One grid branch's row (sparsity reached, precision that ran, accuracy, latency, size) and the
    teacher's row measured beside it; out_dir/row.json."""
    from slimnlp.grid.branches import write_branch_row

    payload = write_branch_row(branch, pruned_dir, student_dir, results_dir, make_output_dir(out_dir))
    return {k: v for k, v in payload["row"].items() if isinstance(v, int | float) and not isinstance(v, bool)}


def grid_collect(
    cfg: RunConfig, row_dirs: list[str], out_dir: str | Path, *, parent_run_id: str | None = None
) -> dict[str, Any]:
    """Every branch's row in one table (grid.md, grid.csv, grid.json) and one plot (grid.png:
    accuracy vs latency, area = size), logged to the MLflow parent run under grid/."""
    from slimnlp.grid.branches import write_grid_report

    with step_body(cfg, "grid-collect", out_dir, parent_run_id) as (run, out):
        report = write_grid_report(row_dirs, out)
        print(Path(report["files"]["markdown"]).read_text(encoding="utf-8"), flush=True)
        parent = tracking.resolve_parent_run_id(parent_run_id)
        for path in report["files"].values():
            run.client.log_artifact(parent or run.run_id, path, "grid")
        metrics: dict[str, Any] = {"branches": len(report["rows"])}
        for row in report["rows"]:
            for key in (
                "accuracy",
                "macro_f1",
                "latency_b32_p50_ms",
                "speedup_vs_teacher_b32",
                "structural_sparsity",
            ):
                if isinstance(row.get(key), int | float):
                    metrics[f"{row['branch']}.{key}"] = row[key]
        return finish_step(run, out, metrics, model_dir=False)
