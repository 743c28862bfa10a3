"""The paper grid sweeps any registered pruner and calibration sources (grid.methods, grid.calibration)."""

from __future__ import annotations

import json

import pytest

from slimnlp.config import ConfigError, load_config
from slimnlp.grid.branches import branch_config, branches

GRID = [
    "grid.enabled=true",
    "grid.methods=[block_movement, magnitude, wanda]",
    "grid.calibration=[[train], [corpus/marathi.txt, corpus/hindi.txt]]",
    "grid.sparsities=[0.0, 0.5]",
    "grid.distillation=[true]",
    "grid.precisions=[fp32]",
]


def test_methods_and_calibration_multiply_only_where_they_apply():
    items = branches(load_config(overrides=GRID))
    ids = [b["id"] for b in items]
    # block movement: 0 and 50%; magnitude: 50% only (0 is not a pruning), no calibration axis;
    # wanda: 50% for each of the two calibration points.
    assert ids == [
        "s00-kd-fp32",
        "s50-kd-fp32",
        "magnitude-s50-kd-fp32",
        "wanda-c0-s50-kd-fp32",
        "wanda-c1-s50-kd-fp32",
    ]
    assert items[0] == {"id": "s00-kd-fp32", "sparsity": 0.0, "kd": True, "precision": "fp32"}
    assert items[4]["calibration"] == ["corpus/marathi.txt", "corpus/hindi.txt"]
    json.dumps(items)  # KFP ParallelFor items: plain JSON


def test_a_branch_config_carries_its_method_and_calibration():
    cfg = load_config(overrides=GRID)
    wanda = branch_config(cfg, branches(cfg)[4])
    assert wanda.prune.method == "wanda" and wanda.prune.target_sparsity == 0.5
    assert wanda.prune.calibration.sources == ["corpus/marathi.txt", "corpus/hindi.txt"]
    assert wanda.finetune_amp.alpha == cfg.finetune_amp.alpha
    plain = branch_config(cfg, branches(cfg)[0])
    assert plain.prune.method == "block_movement" and plain.prune.calibration.sources == ["train"]


def test_every_registered_method_can_be_swept():
    from slimnlp.config import prune_methods

    cfg = load_config(
        overrides=[
            "grid.enabled=true",
            f"grid.methods=[{', '.join(prune_methods())}]",
            "grid.sparsities=[0.5]",
        ]
    )
    assert {b.get("method", "block_movement") for b in branches(cfg)} == set(prune_methods())


def test_unknown_grid_method_names_the_registered_ones():
    with pytest.raises(ConfigError, match=r"grid.methods values must be in \(.*'wanda'.*\), got 'wand'"):
        load_config(overrides=["grid.methods=[wand]"])
