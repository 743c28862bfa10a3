"""The step list: the one record of the pipeline's steps, read by the CLI, the KFP components, the
DAG, the local run and the tests. Torch-free, so compiling the pipeline stays light.

    from slimnlp.steps import STEPS, step_spec
    step_spec("prune").inputs        # (data <- prepare-data, teacher <- train-teacher)

A step is a function `f(cfg, *, <input>_dir=..., out_dir, parent_run_id)` in a `slimnlp.steps`
module; its CLI verb, KFP task name and MLflow step-run name are all `Step.name`. Inputs are passed
by keyword: `StepInput.name` is the KFP component parameter, `--<flag>` the CLI option and
`<name>_dir` the function's keyword.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class StepInput:
    """One input directory of a step: which step produces it, and what it is."""

    name: str  # KFP component parameter; the function takes it as `<name>_dir`
    producer: str  # the step whose output it is, by default and in the DAG
    help: str
    flag: str = ""  # CLI option without dashes; default: the name with '-' for '_'
    optional: bool = False  # passed only when its producer ran (train-teacher's pretrained model)
    keyword: str = ""  # the function's keyword when it is not `<name>_dir` (grid-collect's row_dirs)

    @property
    def param(self) -> str:
        return self.keyword or f"{self.name}_dir"

    @property
    def option(self) -> str:
        return "--" + (self.flag or self.name.replace("_", "-"))


@dataclass(frozen=True)
class Step:
    """One pipeline step: what it reads, what it writes, where it runs and what it touches."""

    name: str  # CLI verb, KFP task and display name, MLflow step-run name
    function: str  # "module:function" inside slimnlp.steps, imported only when the step runs
    section: str | None  # the run config section that holds its settings
    help: str
    inputs: tuple[StepInput, ...]
    output: str  # the KFP output parameter ...
    output_kind: str  # ... and its artifact type: Dataset | Model | Artifact
    output_dir: str  # default folder of its output inside the run dir
    gpu: bool = False  # trains: asks for a GPU (and /dev/shm) on a cluster
    side_effects: tuple[str, ...] = ()  # outside its output dir: never retried, never cached
    enabled_by: str | None = None  # a boolean config key ("pretrain.enabled"); None = always in the DAG
    values: tuple[str, ...] = ()  # parameters that are values, not directories (grid-row's branch)
    # Config keys it reads beyond `section`: other sections ("export") or global values ("seed").
    # With the pruning method's own reads (`step_reads`), this is what its resume key and KFP cache
    # key hash, and all of the config a KFP task receives. tests/steps/test_reads.py checks it
    # against the code (what tracks the step in MLflow is not counted).
    reads: tuple[str, ...] = ()
    # Its headline figures: metrics.json keys (fnmatch patterns) shown beside its KFP task; the
    # rest stays in its MLflow run and metrics.json.
    headline: tuple[str, ...] = ()

    def load(self) -> Callable[..., dict[str, Any]]:
        """The step function (imports torch and friends)."""
        module, _, function = self.function.partition(":")
        return getattr(importlib.import_module(f"slimnlp.steps.{module}"), function)

    def enabled(self, cfg: Any) -> bool:
        if self.enabled_by is None:
            return True
        section, _, key = self.enabled_by.partition(".")
        return bool(getattr(getattr(cfg, section), key))


_DATA = StepInput("data", "prepare-data", "prepared data directory")
_TEACHER = StepInput("teacher", "train-teacher", "teacher model directory")
# The headline of a step that writes a model directory ...
_MODEL = ("test_accuracy", "test_macro_f1", "params_total", "size_bytes", "best_epoch")
# ... and of a step that measures several models (keys "<row>.<figure>").
_ROWS = ("*.accuracy", "*.macro_f1", "*.latency_b32_p50_ms", "*.speedup_vs_teacher_b32")

STEPS: tuple[Step, ...] = (
    Step(
        "prepare-data", "data:prepare_data", "data", "load, clean and split the labelled data",
        inputs=(), output="data", output_kind="Dataset", output_dir="data",
        headline=("train_rows", "dev_rows", "test_rows", "num_labels"),
    ),
    Step(
        "pretrain-mlm", "train:pretrain_mlm", "pretrain",
        "masked-LM pretraining of a teacher on pretrain.corpus + the training text (cached)",
        inputs=(
            StepInput(
                "data", "prepare-data", "prepared data directory (its training text joins the corpus)",
                optional=True,
            ),
        ),
        output="model", output_kind="Model", output_dir="pretrained", gpu=True, enabled_by="pretrain.enabled",
        reads=("seed", "output_dir"), headline=("heldout_perplexity", "tokens_seen", "params_total", "size_bytes"),
    ),
    Step(
        "train-teacher", "train:train_teacher", "teacher", "fine-tune (or build and train) the teacher",
        inputs=(
            _DATA,
            StepInput("pretrained", "pretrain-mlm", "pretrain-mlm output to start from", optional=True),
        ),
        output="model", output_kind="Model", output_dir="teacher", gpu=True, reads=("seed",), headline=_MODEL,
    ),
    Step(
        "prune", "pruning:prune", "prune", "structured pruning by the registered pruner prune.method",
        inputs=(_DATA, _TEACHER), output="model", output_kind="Model", output_dir="pruned", gpu=True,
        reads=("seed",),
        headline=(
            *_MODEL, "heads_removed", "neurons_removed", "head_sparsity", "ffn_sparsity", "structural_sparsity",
            "weight_sparsity",
        ),
    ),
    Step(
        "distill", "train:distill", "distill", "distil the teacher into the pruned student",
        inputs=(_DATA, _TEACHER, StepInput("student", "prune", "student model directory to distil into")),
        # prune: the method's record says whether training keeps its zeros (`keeps_zeros`)
        output="model", output_kind="Model", output_dir="distilled", gpu=True, reads=("seed", "prune"),
        headline=_MODEL,
    ),
    Step(
        "finetune-amp", "train:finetune_amp", "finetune_amp", "mixed-precision fine-tune of the student",
        inputs=(
            _DATA,
            StepInput("teacher", "train-teacher", "teacher model directory (KD term)"),
            StepInput("student", "distill", "student model directory to fine-tune"),
        ),
        output="model", output_kind="Model", output_dir="student", gpu=True, reads=("seed", "prune"),
        headline=_MODEL,
    ),
    Step(
        "export-onnx", "export:export_onnx", "export", "export the student to ONNX with a parity check",
        inputs=(
            StepInput("data", "prepare-data", "prepared data directory (parity texts)"),
            StepInput("model", "finetune-amp", "model directory to export"),
        ),
        output="onnx", output_kind="Artifact", output_dir="onnx",
        headline=("max_abs_diff", "fp32_accuracy", "int8_accuracy", "onnx_size_bytes", "int8_size_bytes"),
    ),
    Step(
        "benchmark", "measure:benchmark", "benchmark", "teacher vs. students: accuracy, latency, size",
        inputs=(
            StepInput("data", "prepare-data", "prepared data directory (test set)"),
            _TEACHER,
            StepInput("student", "finetune-amp", "final student model directory"),
            StepInput("student_onnx", "export-onnx", "student ONNX directory", flag="onnx"),
        ),
        output="results", output_kind="Artifact", output_dir="benchmark", reads=("export", "tracking", "seed"),
        headline=_ROWS,
    ),
    Step(
        "promote", "release:promote", "registry",
        "register the student in MLflow; champion only if the gate passes",
        inputs=(
            StepInput("data", "prepare-data", "prepared data directory (test set)"),
            _TEACHER,
            StepInput("student_onnx", "export-onnx", "student ONNX directory (what is registered)", flag="onnx"),
            StepInput("results", "benchmark", "benchmark output directory (results.json)"),
        ),
        output="decision", output_kind="Artifact", output_dir="promote", side_effects=("mlflow-registry",),
        headline=("promoted", "registered_version"),
    ),
)  # fmt: skip

# The paper grid's own steps (pipelines/grid.py): one row per branch, then one table. Each branch
# runs prune, finetune-amp, export-onnx and benchmark from STEPS with its own config.
GRID_STEPS: tuple[Step, ...] = (
    Step(
        "grid-row", "grid:grid_row", "grid", "one grid branch's row of the results table",
        inputs=(
            StepInput("pruned", "prune", "the branch's prune output"),
            StepInput("student", "finetune-amp", "the branch's finetune-amp output"),
            StepInput("results", "benchmark", "the branch's benchmark output"),
        ),
        output="row", output_kind="Artifact", output_dir="grid-rows", values=("branch",),
        headline=("sparsity", "accuracy", "latency_b32_p50_ms", "speedup_vs_teacher_b32", "structural_sparsity"),
    ),
    Step(
        "grid-collect", "grid:grid_collect", "grid", "every branch's row in one table and one plot",
        inputs=(StepInput("rows", "grid-row", "the grid-row outputs of all branches", keyword="row_dirs"),),
        output="report", output_kind="Artifact", output_dir="grid", headline=_ROWS,
    ),
)  # fmt: skip

# NAS choose-after-recovery (prune.nas.recover_top_k > 1; pipelines/candidates.py): they stand in for
# distill and finetune-amp, one recover-candidate per candidate the prune step wrote, then one
# select-student whose output (a model directory, "student" like finetune-amp's) export-onnx reads.
_PRUNED = StepInput("pruned", "prune", "prune output (candidates/<i>/ and candidates/candidates.json)")
CANDIDATE_STEPS: tuple[Step, ...] = (
    Step(
        "recover-candidate", "candidates:recover_candidate", "distill",
        "distill then finetune-amp one NAS candidate; keep the stage better on the selection rows",
        inputs=(_DATA, _TEACHER, _PRUNED), output="model", output_kind="Model", output_dir="recovered",
        gpu=True, values=("candidate",), reads=("finetune_amp", "prune", "seed"),
    ),
    Step(
        "select-student", "candidates:select_student", "prune",
        "the fastest recovered NAS candidate within the budget on the selection rows (else the most accurate)",
        inputs=(
            _DATA, _TEACHER, _PRUNED,
            StepInput("recovered", "recover-candidate", "the recover-candidate outputs", keyword="recovered_dirs"),
        ),
        output="model", output_kind="Model", output_dir="student", reads=("seed",),
    ),
)  # fmt: skip

# The steps in DAG order: CLI verbs, KFP task names and MLflow step-run names are the same words.
STEP_NAMES: tuple[str, ...] = tuple(step.name for step in STEPS)
GPU_STEPS: tuple[str, ...] = tuple(step.name for step in STEPS + CANDIDATE_STEPS if step.gpu)
SIDE_EFFECT_STEPS: tuple[str, ...] = tuple(step.name for step in STEPS if step.side_effects)


def step_spec(name: str) -> Step:
    """The step called `name` (a CLI verb); a KeyError names the known ones."""
    for step in STEPS + GRID_STEPS + CANDIDATE_STEPS:
        if step.name == name:
            return step
    raise KeyError(f"no step {name!r}; the steps are {', '.join(STEP_NAMES)}")


def step_reads(step: Step, cfg: Any) -> tuple[str, ...]:
    """Every top-level config key the step reads: its section, its declared reads and, for the step
    that runs the pruning method (section `prune`), the sections the method reads (nas: benchmark,
    export, registry). Sorted, so that a key derived from it does not depend on declaration order."""
    keys = {key for key in (step.section, *step.reads) if key}
    if step.section == "prune":
        from slimnlp.prune.methods import method_reads

        keys.update(method_reads(cfg.prune.method))
    return tuple(sorted(keys))


def step_config(step: Step, cfg: Any) -> dict[str, Any]:
    """The part of the run config the step reads ({key: value} for `step_reads`): what its resume key
    and KFP cache key hash."""
    values = cfg.to_dict()
    return {key: values[key] for key in step_reads(step, cfg)}


def dag_steps(cfg: Any) -> list[Step]:
    """The steps this config's pipeline holds, in order (pretrain-mlm only when pretrain.enabled)."""
    return [step for step in STEPS if step.enabled(cfg)]
