"""`slimnlp report`: rebuild the benchmark report (results.md, report.html, plots) of a run.

    slimnlp report runs/marathi-sample                 # a run dir, its report/ or a benchmark output
    slimnlp report 3f2c...e1 --config configs/default.yaml   # an MLflow run id (parent or benchmark run)

The HTML page is self-contained (plots inlined), so it can be mailed or opened from MLflow.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path


def add_verbs(verbs: argparse._SubParsersAction, common: Callable[[argparse.ArgumentParser], None]) -> dict:
    """Add this module's verbs to `verbs`; return {verb: command(args) -> exit code}."""
    report = verbs.add_parser(
        "report",
        help="rebuild the benchmark report (HTML + Markdown) of a run dir or MLflow run",
        description="Rebuild results.md, report.html and the plots from a run directory's results.json, "
        "or from an MLflow run (downloaded, rebuilt, and logged back to the parent run under report/).",
    )
    common(report)
    report.add_argument("target", metavar="RUN_DIR_OR_MLFLOW_RUN_ID", help="a directory or an MLflow run id")
    report.add_argument(
        "--out", metavar="DIR", help="where to write (default: beside results.json; <run dir>/report-<id>)"
    )
    return {"report": cmd_report}


def cmd_report(args: argparse.Namespace) -> int:
    from slimnlp.benchmark.report_html import report_from_dir, report_from_mlflow

    if Path(args.target).exists():
        files = report_from_dir(args.target, args.out)
    else:
        from slimnlp.config import load_config
        from slimnlp.mlops.tracking import tracking_uri

        cfg = load_config(args.config, args.overrides)
        files = report_from_mlflow(
            args.target, tracking_uri(cfg), args.out or cfg.run_dir / f"report-{args.target[:8]}"
        )
    print(f"wrote {files['html']}\nwrote {files['markdown']}")
    return 0
