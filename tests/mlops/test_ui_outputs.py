"""What the KFP UI shows of a run, read from the benchmark's and promote's output folders."""

import json

import pytest

from slimnlp.mlops.ui_outputs import decision_markdown, headline_figures, report_html, student_confusion

ROWS = [
    {"name": "teacher-pytorch", "role": "teacher", "runtime": "pytorch", "accuracy": 0.91},
    {
        "name": "teacher-onnx",
        "role": "teacher",
        "runtime": "onnx",
        "accuracy": 0.9,
        "macro_f1": 0.89,
        "size_bytes": 4000,
        "latency_b1_p50_ms": 2.0,
    },
    {"name": "student-pytorch", "role": "student", "runtime": "pytorch", "accuracy": 0.7},
    {
        "name": "student-onnx",
        "role": "student",
        "runtime": "onnx",
        "accuracy": 0.88,
        "macro_f1": 0.87,
        "size_bytes": 1000,
        "latency_b1_p50_ms": 0.5,
    },
    {"name": "tfidf-logreg", "role": "baseline", "runtime": "sklearn", "accuracy": 0.6},
]


@pytest.fixture
def results(tmp_path):
    confusion = {"student-onnx": [[5, 1], [2, 7]], "student-pytorch": [[1, 5], [7, 2]]}
    body = {"rows": ROWS, "id2label": {"1": "sport", "0": "politics"}, "confusion": confusion}
    (tmp_path / "results.json").write_text(json.dumps(body))
    return tmp_path


def test_headline_figures_compare_the_registered_student_with_the_teacher_in_its_runtime(results):
    figures = headline_figures(results)
    assert figures["student_accuracy"] == 0.88 and figures["teacher_accuracy"] == 0.9  # onnx vs onnx
    assert figures["teacher_over_student_latency_b1_p50"] == 4.0
    assert figures["teacher_over_student_size_bytes"] == 4.0
    assert "student_latency_b32_p50_ms" not in figures  # not measured: not made up


def test_student_confusion_is_the_onnx_students_in_label_order(results):
    assert student_confusion(results) == (["politics", "sport"], [[5, 1], [2, 7]])
    (results / "results.json").write_text(json.dumps({"rows": ROWS[:2], "confusion": {}, "id2label": {}}))
    with pytest.raises(ValueError, match="no student confusion matrix"):
        student_confusion(results)


def test_report_html_falls_back_to_a_pointer(results):
    assert "No report.html" in report_html(results)
    (results / "report.html").write_text("<html>the report</html>")
    assert report_html(results) == "<html>the report</html>"


def test_decision_markdown_has_each_check_and_the_runs_ids(tmp_path):
    decision = {
        "name": "shc",
        "version": "3",
        "promoted": False,
        "checks": [
            {"name": "accuracy vs teacher", "passed": True, "detail": "0.880 vs 0.900: -2.0 points"},
            {"name": "faster than champion", "passed": False, "detail": "3 ms vs 1 ms: 0.333x"},
        ],
        "lineage": {"kfp.run_id": "kfp-42", "slimnlp.parent_run_id": "abc", "kfp.ui_url": ""},
    }
    (tmp_path / "decision.json").write_text(json.dumps(decision))
    text = decision_markdown(tmp_path)
    assert "`shc` version 3 is challenger; **not promoted**" in text
    assert "| faster than champion | no | 3 ms vs 1 ms: 0.333x |" in text
    assert "| kfp.run_id | kfp-42 |" in text and "| slimnlp.parent_run_id | abc |" in text
    assert "kfp.ui_url" not in text
