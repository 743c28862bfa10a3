"""The grid runs each method once per point that changes its result: the axes a method ignores
(its record's `uses_target_sparsity` and `calibrates`) have one point for it."""

from __future__ import annotations

import dataclasses
import json

from slimnlp.config import load_config
from slimnlp.grid.branches import branch_config, branches, write_branch_row, write_grid_report
from slimnlp.prune.methods import PRUNE_METHODS

GRID = [
    "grid.enabled=true",
    "grid.methods=[nas, importance, magnitude, wanda]",
    "grid.calibration=[[train], [corpus/marathi.txt]]",
    "grid.sparsities=[0.25, 0.5]",
    "grid.distillation=[false, true]",
    "grid.precisions=[fp32]",
]


def test_each_method_runs_once_per_point_that_changes_its_model():
    ids = [b["id"] for b in branches(load_config(overrides=GRID))]
    # nas chooses its own size (one point, not one per sparsity) and reads no calibration texts;
    # importance and magnitude read no calibration texts; wanda multiplies by both axes.
    assert ids == [
        "nas-ce-fp32",
        "nas-kd-fp32",
        *(f"importance-s{s}-{kd}-fp32" for s in (25, 50) for kd in ("ce", "kd")),
        *(f"magnitude-s{s}-{kd}-fp32" for s in (25, 50) for kd in ("ce", "kd")),
        *(f"wanda-c{c}-s{s}-{kd}-fp32" for c in (0, 1) for s in (25, 50) for kd in ("ce", "kd")),
    ]
    assert len(set(ids)) == len(ids)


def test_the_axes_follow_the_method_record_not_its_name(monkeypatch):
    importance = PRUNE_METHODS["importance"]
    monkeypatch.setitem(
        PRUNE_METHODS,
        "importance",
        dataclasses.replace(importance, uses_target_sparsity=False, calibrates=True),
    )
    ids = [
        b["id"] for b in branches(load_config(overrides=[*GRID[:1], "grid.methods=[importance]", *GRID[2:]]))
    ]
    assert ids == [f"importance-c{c}-{kd}-fp32" for c in (0, 1) for kd in ("ce", "kd")]


def test_a_branch_without_a_sparsity_keeps_the_configured_one_and_tables(tmp_path):
    cfg = load_config(overrides=[*GRID, "prune.target_sparsity=0.3"])
    nas = next(b for b in branches(cfg) if b.get("method") == "nas")
    assert nas["sparsity"] is None and "calibration" not in nas
    json.dumps(nas)  # a KFP ParallelFor item: plain JSON
    branch_cfg = branch_config(cfg, nas)
    assert branch_cfg.prune.method == "nas" and branch_cfg.prune.target_sparsity == 0.3
    # Its row sorts and plots beside rows that have a sparsity.
    row_dirs = []
    for branch in (nas, branches(cfg)[2]):
        folder = tmp_path / branch["id"]
        for name in ("pruned", "student", "results"):
            (folder / name).mkdir(parents=True)
        (folder / "pruned" / "metrics.json").write_text(json.dumps({"structural_sparsity": 0.4}))
        (folder / "student" / "metrics.json").write_text(json.dumps({"precision": "fp32"}))
        rows = [
            {"role": role, "runtime": "onnx", "accuracy": 0.9, "latency_b32_p50_ms": 10.0, "size_bytes": 100}
            for role in ("teacher", "student")
        ]
        (folder / "results" / "results.json").write_text(json.dumps({"rows": rows}))
        write_branch_row(branch, folder / "pruned", folder / "student", folder / "results", folder / "row")
        row_dirs.append(folder / "row")
    report = write_grid_report(row_dirs, tmp_path / "report")
    assert [r["branch"] for r in report["rows"]] == [branches(cfg)[2]["id"], "nas-ce-fp32"]
    assert "| nas-ce-fp32 |" in (tmp_path / "report" / "grid.md").read_text(encoding="utf-8")
