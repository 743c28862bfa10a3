"""The promotion gate's accuracy check, paired on the same test rows (the NAS selection's statistic)."""

from __future__ import annotations

from slimnlp.benchmark.paired import pack_correct
from slimnlp.config import RegistryConfig
from slimnlp.promote.gate import decide, paired_test_difference

# 10 test rows: the student wins 3 and loses 1 against the teacher (tests/benchmark/test_paired.py)
STUDENT = pack_correct([1, 1, 1, 0, 1, 1, 0, 1, 0, 1])
TEACHER = pack_correct([0, 0, 0, 1, 1, 1, 0, 1, 0, 1])


def _numbers(correct: str, latency_ms: float) -> dict:
    return {
        "accuracy": correct.count("1") / len(correct),
        "latency_ms": latency_ms,
        "size_bytes": 1,
        "correct": correct,
    }


def test_the_gate_prints_the_paired_interval_of_the_accuracy_difference():
    decision = decide(
        _numbers(STUDENT, 1.0), _numbers(TEACHER, 4.0), None, RegistryConfig(max_drop_vs_teacher=0.01)
    )
    check = decision.checks[0]
    assert check.name == "accuracy vs teacher" and check.passed and decision.promote
    assert "paired difference +0.2000 (90% bounds -0.0563 .. +0.4563; 10 rows, 3 won, 1 lost)" in check.detail
    assert "the lower bound does not clear -0.0100" in check.detail


def test_the_gate_decides_on_the_paired_difference_and_falls_back_without_rows():
    # the other way round: the student loses 0.2 > the 0.01 budget
    refused = decide(
        _numbers(TEACHER, 1.0), _numbers(STUDENT, 4.0), None, RegistryConfig(max_drop_vs_teacher=0.01)
    )
    assert not refused.checks[0].passed and "paired difference -0.2000" in refused.checks[0].detail
    plain = {k: v for k, v in _numbers(STUDENT, 1.0).items() if k != "correct"}
    check = decide(plain, _numbers(TEACHER, 4.0), None, RegistryConfig(max_drop_vs_teacher=0.01)).checks[0]
    assert check.passed and "paired" not in check.detail and "drop -0.2000" in check.detail
    assert paired_test_difference(plain, _numbers(TEACHER, 4.0)) is None


def test_a_nas_student_select_student_could_not_certify_is_challenger_only():
    """select-student's `student_holds_budget: false` refuses the champion alias even when the test
    figures pass (README: "it can only be challenger"); true, or no selection, changes nothing."""
    cfg = RegistryConfig(max_drop_vs_teacher=0.01)
    student, teacher = _numbers(STUDENT, 1.0), _numbers(TEACHER, 4.0)
    reason = "no recovered candidate is within 0.0100 of the teacher at 90% confidence: kept 1"
    refused = decide(student, teacher, None, cfg, {"student_holds_budget": False, "choice_reason": reason})
    assert not refused.promote
    assert [c.name for c in refused.checks if not c.passed] == ["NAS choice held its budget"]
    assert f"FAIL NAS choice held its budget: {reason}" in refused.reasons
    for selection in (None, {}, {"student_holds_budget": True, "choice_reason": "fastest within"}):
        decision = decide(student, teacher, None, cfg, selection)
        assert decision.promote and len(decision.checks) == 2
