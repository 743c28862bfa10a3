"""The pipeline steps: the step list (`spec`) and one module per stage holding the step bodies.

Importing this package is torch-free; `steps.prune(...)` (any step by its function name) imports the
step's module on first use, so the CLI, KFP compile and the tests read the list without torch.

    from slimnlp import steps
    steps.prepare_data(cfg, out_dir="runs/x/data")
    steps.train_teacher(cfg, data_dir="runs/x/data", out_dir="runs/x/teacher")
"""

from __future__ import annotations

from typing import Any

from slimnlp.steps.spec import (
    CANDIDATE_STEPS,
    GPU_STEPS,
    GRID_STEPS,
    SIDE_EFFECT_STEPS,
    STEP_NAMES,
    STEPS,
    Step,
    StepInput,
    dag_steps,
    step_spec,
)

# Not a step (no output directory, no MLflow run): the grid's config of one branch.
_EXTRA = {"grid_branch_config": "grid:grid_branch_config"}


def __getattr__(name: str) -> Any:
    import importlib

    for step in STEPS + GRID_STEPS + CANDIDATE_STEPS:
        if step.function.partition(":")[2] == name:
            return step.load()
    if name in _EXTRA:
        module, _, function = _EXTRA[name].partition(":")
        return getattr(importlib.import_module(f"slimnlp.steps.{module}"), function)
    raise AttributeError(f"module 'slimnlp.steps' has no attribute {name!r}")


__all__ = [
    "CANDIDATE_STEPS",
    "GPU_STEPS",
    "GRID_STEPS",
    "SIDE_EFFECT_STEPS",
    "STEPS",
    "STEP_NAMES",
    "Step",
    "StepInput",
    "dag_steps",
    "step_spec",
]
