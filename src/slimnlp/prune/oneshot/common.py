"""What every one-shot pruner does around its own rule: calibrate, time itself, record and log.

The prune step prints and logs the pruner's wall time (`prune_seconds`), the calibration report
(`prune_artifacts/calibration.json`: sources, samples, tokens, script mix, [UNK] rate) and the
per-layer figures a method adds.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from torch import nn

from slimnlp.prune.base import PruneContext, PruneReport
from slimnlp.prune.oneshot.calibration import Calibration, load_calibration

log = logging.getLogger(__name__)

ARTIFACTS = "prune_artifacts"


def calibrate(model: nn.Module, tokenizer: Any, train_texts: list[str], context: PruneContext) -> Calibration:
    """The run's calibration texts, tokenised on the model's device."""
    device = next(model.parameters()).device.type
    return load_calibration(
        context.config.calibration,
        train_texts,
        tokenizer,
        seed=context.seed,
        max_length=context.max_length,
        device=device,
    )


def calibration_metrics(report: dict[str, Any]) -> dict[str, Any]:
    """The flat figures of a calibration report for metrics.json and MLflow."""
    flat: dict[str, Any] = {
        "calibration_sources": ",".join(report["sources"]),
        "calibration_samples": report["samples"],
        "calibration_tokens": report["tokens"],
        "calibration_unk_rate": report["unk_rate"],
    }
    for script, share in report["script_mix"].items():
        flat[f"calibration_script_{script.lower()}"] = share
    return flat


def finish(
    report: PruneReport,
    context: PruneContext,
    seconds: float,
    calibration: Calibration | None,
    details: dict[str, Any],
) -> PruneReport:
    """Add wall time and calibration figures to the report, print the time, write and log the files."""
    report.extras["prune_seconds"] = round(seconds, 3)
    if calibration is not None:
        report.extras.update(calibration_metrics(calibration.report))
    print(f"one-shot prune ({report.method}): {seconds:.1f} s wall time", flush=True)
    if context.out_dir is not None:
        folder = context.out_dir / ARTIFACTS
        folder.mkdir(parents=True, exist_ok=True)
        payload = {"method": report.method, "prune_seconds": seconds, **details}
        if calibration is not None:
            payload["calibration"] = calibration.report
        path = folder / f"{report.method}.json"
        path.write_text(json.dumps(payload, indent=2, ensure_ascii=False), encoding="utf-8")
    if context.mlflow_run is not None:  # the figures reach MLflow with the step's metrics.json
        context.mlflow_run.log_metrics({"prune_seconds": seconds})
        if calibration is not None:
            context.mlflow_run.log_dict(calibration.report, f"{ARTIFACTS}/calibration.json")
    return report
