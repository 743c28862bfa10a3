"""The report opens with the promotion decision: promoted or not, each gate check with its figures
and margin, at the batch size and ONNX variant the gate measured."""

from __future__ import annotations

import json

from slimnlp.benchmark import report
from slimnlp.config import RegistryConfig
from slimnlp.promote.gate import decide
from slimnlp.promote.report import decision_block, rewrite_report
from tests.benchmark.test_report_html import results  # noqa: F401 - a fixture: a real tiny benchmark


def decided(promote: bool) -> dict:
    candidate = {
        "accuracy": 0.9,
        "latency_ms": 1.0 if promote else 3.9,
        "size_bytes": 1,
        "latency_spread": 0.05,
    }
    teacher = {"accuracy": 0.9, "latency_ms": 4.0, "size_bytes": 2, "latency_spread": 0.02}
    decision = decide(candidate, teacher, None, RegistryConfig())
    return {
        "registered": True,
        "name": "slimnlp-demo",
        "version": "2",
        "promoted": decision.promote,
        "reasons": decision.reasons,
        "candidate": {**candidate, "variant": "int8"},
        "gate": "faster",
    }


def test_the_decision_names_the_gate_figures_batch_and_variant():
    block = decision_block(decided(True), "latency_b1_p50_ms")
    assert block["headline"] == (
        "slimnlp-demo version 2: PROMOTED to champion. The gate compared latency_b1_p50_ms (batch 1) of "
        "the ONNX Runtime int8 models."
    )
    assert block["lines"][1] == (
        "pass faster than teacher: 1 ms vs the teacher's 4 ms: 4.000x, needs >= 1.100x "
        "(min_ratio 1.10x, round spread 5.0% -> 1.05x)"
    )
    refused = decision_block(decided(False), "latency_b32_p50_ms")
    assert "NOT promoted (champion unchanged)" in refused["headline"] and "(batch 32)" in refused["headline"]
    assert refused["lines"][1].startswith("FAIL faster than teacher: 3.9 ms vs the teacher's 4 ms: 1.026x")


def test_the_rewritten_report_opens_with_the_decision(results, tmp_path):  # noqa: F811 - the fixture
    bench = tmp_path / "bench"
    report.write_reports(results, bench)
    files = rewrite_report(bench, tmp_path / "promote", decided(True), "latency_b1_p50_ms")
    markdown = (tmp_path / "promote" / "report" / "results.md").read_text()
    assert markdown.startswith(
        "# Benchmark\n\n## Decision\n\n**slimnlp-demo version 2: PROMOTED to champion."
    )
    assert "- pass faster than teacher: 1 ms vs the teacher's 4 ms: 4.000x" in markdown
    page = (tmp_path / "promote" / "report" / "report.html").read_text()
    assert page.index("id='decision'") < page.index("All variants")
    assert "PROMOTED to champion" in page and "needs &gt;= 1.100x" in page
    assert json.loads(open(files["json"]).read())["decision"]["lines"]
    # The benchmark's own report is left as it was.
    assert "Decision" not in (bench / "results.md").read_text()
