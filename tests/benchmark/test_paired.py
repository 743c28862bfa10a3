"""The paired accuracy difference: a hand-computed case, the bootstrap beside it, and its edges."""

from __future__ import annotations

import numpy as np
import pytest

from slimnlp.benchmark.paired import (
    pack_correct,
    paired_difference,
    paired_from_predictions,
    unpack_correct,
)

# 10 rows: the candidate wins 3 (right where the teacher is wrong), loses 1, agrees on 6.
CANDIDATE = [1, 1, 1, 0, 1, 1, 0, 1, 0, 1]
TEACHER = [0, 0, 0, 1, 1, 1, 0, 1, 0, 1]


def test_the_normal_bounds_of_a_hand_computed_case():
    # mean = (3 - 1) / 10 = 0.2; var(d) = (4/10 - 0.04) * 10/9 = 0.4; se = sqrt(0.4 / 10) = 0.2;
    # z(0.9) = 1.2815516 -> bounds 0.2 -/+ 0.2563103
    d = paired_difference(CANDIDATE, TEACHER, confidence=0.9)
    assert (d.won, d.lost, d.rows) == (3, 1, 10)
    assert d.difference == pytest.approx(0.2)
    assert d.low == pytest.approx(-0.0563103, abs=1e-6)
    assert d.high == pytest.approx(0.4563103, abs=1e-6)
    assert d.within(0.06) and not d.within(0.05)
    assert d.describe() == "+0.2000 (90% bounds -0.0563 .. +0.4563; 10 rows, 3 won, 1 lost)"


def test_the_difference_is_the_accuracy_difference_and_bounds_narrow_with_rows():
    rng = np.random.default_rng(3)
    teacher = rng.random(4000) < 0.7
    # the candidate flips 10% of the teacher's rows: paired noise only from those rows
    candidate = teacher ^ (rng.random(4000) < 0.1)
    small = paired_difference(candidate[:400], teacher[:400])
    large = paired_difference(candidate, teacher)
    assert large.difference == pytest.approx(candidate.mean() - teacher.mean())
    assert large.high - large.low < (small.high - small.low) / 2.5  # ~ 1/sqrt(10) as wide


def test_the_bootstrap_agrees_with_the_normal_bounds_and_is_reproducible():
    rng = np.random.default_rng(5)
    teacher = rng.random(1500) < 0.7
    candidate = teacher ^ (rng.random(1500) < 0.15)
    normal = paired_difference(candidate, teacher)
    boot = paired_difference(candidate, teacher, method="bootstrap", seed=7)
    assert boot.difference == normal.difference
    assert boot.low == pytest.approx(normal.low, abs=0.003)
    assert boot.high == pytest.approx(normal.high, abs=0.003)
    assert paired_difference(candidate, teacher, method="bootstrap", seed=7) == boot


def test_identical_predictions_have_no_spread():
    d = paired_difference([1, 0, 1], [1, 0, 1])
    assert (d.difference, d.low, d.high) == (0.0, 0.0, 0.0)


def test_from_predictions_and_the_packed_form():
    d = paired_from_predictions([0, 1, 2, 2], [0, 1, 1, 2], [0, 1, 2, 0])
    assert (d.won, d.lost) == (1, 0)
    packed = pack_correct([True, False, True])
    assert packed == "101" and unpack_correct(packed).tolist() == [True, False, True]
    with pytest.raises(ValueError, match="0/1"):
        unpack_correct("10x")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"confidence": 0.4}, "confidence must be in"),
        ({"method": "exact"}, "method must be one of"),
    ],
)
def test_bad_arguments_say_what_is_wrong(kwargs, message):
    with pytest.raises(ValueError, match=message):
        paired_difference([1, 0], [1, 1], **kwargs)
    with pytest.raises(ValueError, match="same rows"):
        paired_difference([1, 0], [1, 1, 0])


def test_the_report_verdicts_print_the_paired_difference():
    from slimnlp.benchmark.compare import verdicts

    rows = [
        {"name": "teacher-onnx", "role": "teacher", "runtime": "onnx", "accuracy": 0.5},
        {"name": "student-onnx", "role": "student", "runtime": "onnx", "accuracy": 0.7},
    ]
    correct = {"student-onnx": "1110110101", "teacher-onnx": "0001110101"}
    lines = verdicts(rows, rows[1], correct)
    assert "paired difference +0.2000 (90% bounds -0.0563 .. +0.4563; 10 rows, 3 won, 1 lost)" in lines[0]
    assert "paired" not in verdicts(rows, rows[1])[0]  # results written before per-row correctness


def test_a_grid_branch_row_carries_the_paired_bounds(tmp_path):
    import json

    from slimnlp.grid.branches import write_branch_row
    from tests.pipelines.test_grid import _fake_branch_outputs

    branch = {"id": "s25-kd-fp32", "sparsity": 0.25, "kd": True, "precision": "fp32"}
    pruned, student, results = _fake_branch_outputs(tmp_path, branch, 5.0, 10.0)
    payload = json.loads((results / "results.json").read_text())
    payload["rows"][0]["name"], payload["rows"][1]["name"] = "teacher-onnx", "student-onnx"
    payload["correct"] = {"student-onnx": "1110110101", "teacher-onnx": "0001110101"}
    (results / "results.json").write_text(json.dumps(payload))
    row = write_branch_row(branch, pruned, student, results, tmp_path / "row")["row"]
    assert row["accuracy_delta_bounds"] == "-0.0563 .. +0.4563 (90%)"
    assert row["accuracy_delta_low"] == pytest.approx(-0.0563103, abs=1e-6)
