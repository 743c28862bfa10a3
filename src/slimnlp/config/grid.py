"""The paper's experiment grid (`slimnlp run` with grid.enabled)."""

from __future__ import annotations

from dataclasses import dataclass

from slimnlp.config.base import Section, _help, _require
from slimnlp.config.prune_registry import PRUNE_METHODS, prune_methods


@dataclass(frozen=True)
class GridConfig(Section):
    enabled: bool = _help(
        "Run the paper's experiment grid instead of the compress pipeline: one prepare-data and one "
        "teacher, then a branch per (method, calibration, sparsity, KD, precision) doing prune, "
        "finetune-amp, export-onnx and benchmark, then one collect step (table + plot).",
        False,
    )
    sparsities: list[float] = _help(
        "Pruning levels of the grid (0 = train without pruning).",
        factory=lambda: [0.0, 0.25, 0.5, 0.75],
        ge=0,
        lt=1,
        min_items=1,
    )
    distillation: list[bool] = _help(
        "KD settings of the grid: false = CE only, true = prune.block_movement.alpha KD.",
        factory=lambda: [False, True],
        min_items=1,
    )
    precisions: list[str] = _help(
        "Fine-tune precisions of the grid: fp32 and auto (AMP: fp16 on CUDA; on CPU what "
        "finetune_amp resolves, reported per row), or fp16/bf16.",
        factory=lambda: ["fp32", "auto"],
        choices=("auto", "fp16", "bf16", "fp32"),
        min_items=1,
    )
    methods: list[str] = _help(
        "Pruning methods of the grid (any registered prune.method, e.g. block_movement, wanda, "
        "structured_oneshot); a sparsity a method does not accept (0 for one-shot methods) is skipped.",
        factory=lambda: ["block_movement"],
        min_items=1,
    )
    calibration: list[list[str]] = _help(
        "Calibration sources of the grid, one list of prune.calibration.sources per point (e.g. "
        "[[train], [corpus/marathi.txt], [corpus/marathi.txt, corpus/hindi.txt]]); applies to the "
        "methods that calibrate (not block_movement, importance, magnitude); empty = prune.calibration.",
        factory=list,
    )
    parallelism: int = _help(
        "Branches run at once (1 locally keeps latency measurements clean on a small machine).", 1, ge=1
    )

    def check(self) -> None:
        # Methods register when their modules load, so their names are checked here, not declared.
        for value in self.methods:
            _require(value in PRUNE_METHODS, "methods", f"values must be in {prune_methods()}, got {value!r}")
        for i, sources in enumerate(self.calibration):
            _require(len(sources) > 0, f"calibration[{i}]", "must name at least one source (e.g. [train])")
