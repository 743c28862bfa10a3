"""The report, opened by the promotion decision: the promote step rewrites report.html and results.md.

The benchmark step writes the report before the gate has decided; promote adds the decision at the
top (promoted or not, each check with its figures and margin, at the batch size and ONNX variant the
gate measured) and writes the report again into its output (`<promote out>/report/`), logged to the
pipeline's MLflow parent run under `report/` in place of the benchmark's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from slimnlp.promote.gate import latency_point

REPORT_DIR = "report"


def decision_block(result: dict[str, Any], latency_metric: str) -> dict[str, Any]:
    """What the report's first section shows: a headline and one line per check."""
    if not result.get("registered", True):
        return {
            "headline": f"Not registered: {result.get('reason', 'registry.enabled is false')}",
            "lines": [],
        }
    verdict = "PROMOTED to champion" if result.get("promoted") else "NOT promoted (champion unchanged)"
    variant = (result.get("candidate") or {}).get("variant", "fp32")
    if result.get("gate") == "smaller":
        measured = f"size on disk of the ONNX {variant} models"
    else:
        measured = (
            f"{latency_metric} (batch {latency_point(latency_metric)}) of the ONNX Runtime {variant} models"
        )
    headline = f"{result['name']} version {result['version']}: {verdict}. The gate compared {measured}."
    lines = list(result.get("reasons", []))
    if result.get("promoted") and result.get("previous"):
        lines.append(
            f"previous champion: version {result['previous']} (`slimnlp registry rollback` restores it)"
        )
    return {"headline": headline, "lines": lines}


def rewrite_report(
    results_dir: Path, out_dir: Path, result: dict[str, Any], latency_metric: str
) -> dict[str, str]:
    """The benchmark's report with the decision first, written into `out_dir/report/`."""
    from slimnlp.benchmark import report

    results = json.loads((results_dir / report.RESULTS_JSON).read_text(encoding="utf-8"))
    results.pop("files", None)
    results["decision"] = decision_block(result, latency_metric)
    return report.write_reports(results, out_dir / REPORT_DIR)


def log_report(client: Any, run_id: str, files: dict[str, str]) -> None:
    """Put the decided report where the benchmark's was: the parent run's `report/`."""
    for kind in ("html", "markdown"):
        client.log_artifact(run_id, files[kind], REPORT_DIR)
