"""The pipeline steps, each a plain function with the same contract.

Every step reads input artifact directories and the run config, writes one output directory and
returns its metrics (also written to `<out_dir>/metrics.json`). The CLI verbs, the KFP components
and the tests all call these functions, so a step gives the same result wherever it runs.

    slimnlp prepare-data --config configs/default.yaml --out runs/x/data
    slimnlp train-teacher --data runs/x/data --out runs/x/teacher
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from slimnlp.config import RunConfig

STEP_NAMES = (
    "prepare-data", "train-teacher", "prune", "distill", "finetune-amp", "export-onnx", "benchmark",
)


def prepare_data(cfg: RunConfig, out_dir: str | Path, *, parent_run_id: str | None = None) -> dict[str, Any]:
    """Load, clean and split the labelled data into out_dir (train/dev/test.jsonl, label_map.json,
    data_report.json)."""
    raise NotImplementedError


def train_teacher(cfg: RunConfig, data_dir: str | Path, out_dir: str | Path, *,
                  parent_run_id: str | None = None) -> dict[str, Any]:
    """Fine-tune (or build from config and train) the teacher; out_dir is a model directory."""
    raise NotImplementedError


def prune(cfg: RunConfig, data_dir: str | Path, teacher_dir: str | Path, out_dir: str | Path, *,
          parent_run_id: str | None = None) -> dict[str, Any]:
    """Structured pruning of heads and FFN neurons with physical removal; out_dir is a model directory."""
    raise NotImplementedError


def distill(cfg: RunConfig, data_dir: str | Path, teacher_dir: str | Path, student_dir: str | Path,
            out_dir: str | Path, *, parent_run_id: str | None = None) -> dict[str, Any]:
    """Knowledge distillation from the teacher into the student; out_dir is a model directory."""
    raise NotImplementedError


def finetune_amp(cfg: RunConfig, data_dir: str | Path, teacher_dir: str | Path, student_dir: str | Path,
                 out_dir: str | Path, *, parent_run_id: str | None = None) -> dict[str, Any]:
    """Mixed-precision fine-tune of the student; out_dir is a model directory."""
    raise NotImplementedError


def export_onnx(cfg: RunConfig, data_dir: str | Path, model_dir: str | Path, out_dir: str | Path, *,
                parent_run_id: str | None = None) -> dict[str, Any]:
    """ONNX export with parity check (+ optional int8); out_dir holds model.onnx, model.int8.onnx,
    the tokenizer and the model directory's config."""
    raise NotImplementedError


def benchmark(cfg: RunConfig, data_dir: str | Path, teacher_dir: str | Path, student_dir: str | Path,
              student_onnx_dir: str | Path, out_dir: str | Path, *,
              parent_run_id: str | None = None) -> dict[str, Any]:
    """Teacher vs. student on the same test set and harness; out_dir holds results.json, results.md,
    results.csv and plots."""
    raise NotImplementedError
