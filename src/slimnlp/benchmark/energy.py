"""Energy: inference energy per 1,000 predictions, the compression steps' own energy, and payback.

    from slimnlp.benchmark.energy import inference_energy, step_energy_from_mlflow, payback
    row |= inference_energy(runner, feed, batch_size=32, seconds=5, country_iso_code="IND")
    payback(compression_kwh=0.02, teacher_kwh_per_1k=0.004, student_kwh_per_1k=0.001)  # 6,667 predictions

How CodeCarbon measures matters more than the number it prints. With Intel RAPL readable it
*measures* CPU package energy; on most cloud VMs and containers (these machines included) it
*estimates* CPU power as TDP x this process's CPU load, and RAM power from its size. Every figure
carries `energy_method` and `energy_measured` so nobody mistakes an estimate for a measurement.
Inference energy uses CodeCarbon's process tracking mode (only this process's CPU load), so other
work on a shared machine is not charged to the model being measured. An estimate from load x TDP is
close to "latency x constant power": the ratios between models are what it tells you.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from slimnlp.mlops.energy import describe_method, make_tracker

log = logging.getLogger(__name__)

# The steps that turn the teacher into a student: their energy is what compression cost. Training
# the teacher is excluded: a user who does not compress still trains (and serves) the teacher.
COMPRESSION_STEPS = ("prune", "distill", "finetune-amp", "export-onnx")


def inference_energy(
    runner: Any, feed: Any, batch_size: int, seconds: float, country_iso_code: str, name: str = "inference"
) -> dict[str, Any]:
    """Energy and CO2 per 1,000 predictions of `runner` calling `feed` (one batch) for `seconds`.

    Returns {} (and logs why) when CodeCarbon cannot start: energy must never fail a benchmark.
    """
    try:
        # process mode: only this process's CPU load, so other work on the machine is not charged
        tracker = make_tracker(country_iso_code, name, measure_power_secs=1, process_only=True)
        tracker.start()
    except Exception as err:  # noqa: BLE001 - optional measurement
        log.warning("CodeCarbon could not start (%s): no inference energy for %s", err, name)
        return {}
    calls, start = 0, time.perf_counter()
    while calls == 0 or time.perf_counter() - start < seconds:
        runner.run(feed)
        calls += 1
    elapsed = time.perf_counter() - start
    emissions = float(tracker.stop() or 0.0)
    data = tracker.final_emissions_data
    predictions = calls * batch_size
    energy = float(getattr(data, "energy_consumed", 0.0) or 0.0)
    return {
        "energy_kwh_per_1k": energy / predictions * 1000,
        "co2_g_per_1k": emissions * 1000 / predictions * 1000,
        "energy_predictions": predictions,
        "energy_seconds": elapsed,
        "energy_cpu_power_w": float(getattr(data, "cpu_power", 0.0) or 0.0),
        **describe_method(tracker),
    }


def measure_energy(
    runners: dict[str, Any], batch: list[str], cfg: Any, country_iso_code: str, progress: bool = True
) -> dict[str, dict[str, Any]]:
    """`inference_energy` of every runner on one batch at cfg.sequence_length ({} per runner when
    cfg.energy is off). The variants run one after another: CodeCarbon cannot interleave."""
    from tqdm.auto import tqdm

    if not cfg.energy:
        return {name: {} for name in runners}
    return {
        name: inference_energy(
            runner,
            runner.encode(batch, pad_to=cfg.sequence_length),
            len(batch),
            cfg.energy_seconds,
            country_iso_code,
            name,
        )
        for name, runner in tqdm(runners.items(), desc="energy", disable=not progress)
    }


# --------------------------------------------------------------------------------------------------
# The compression steps' own energy (their step_run trackers)


def step_energy_from_metrics(model_dirs: dict[str, str | Path]) -> dict[str, dict[str, Any]]:
    """{step: {"energy_kwh", "emissions_kg_co2", "duration_s", "energy_method"}} from the
    metrics.json of step output directories (step_run merges its tracker's result there as step_*)."""
    import json

    found: dict[str, dict[str, Any]] = {}
    for step, directory in model_dirs.items():
        metrics_file = Path(directory, "metrics.json")
        if not metrics_file.is_file():
            continue
        metrics = json.loads(metrics_file.read_text(encoding="utf-8"))
        if "step_energy_kwh" in metrics:
            found[step] = {
                "energy_kwh": float(metrics["step_energy_kwh"]),
                "emissions_kg_co2": float(metrics.get("step_emissions_kg_co2", 0.0)),
                "duration_s": metrics.get("step_duration_s"),
                "energy_method": metrics.get("step_energy_method", "unknown"),
                "source": str(metrics_file),
            }
    return found


def step_energy_from_mlflow(client: Any, parent_run_id: str) -> dict[str, dict[str, Any]]:
    """The same, read from the step runs nested under an MLflow parent run (metric energy_kwh,
    tag codecarbon.method); the latest FINISHED run of each step wins."""
    parent = client.get_run(parent_run_id)
    runs = client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent_run_id}' and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
    )
    found: dict[str, dict[str, Any]] = {}
    for run in runs:
        step = run.data.tags.get("slimnlp.step", run.info.run_name)
        metrics = run.data.metrics
        if step in found or "energy_kwh" not in metrics:
            continue
        found[step] = {
            "energy_kwh": float(metrics["energy_kwh"]),
            "emissions_kg_co2": float(metrics.get("emissions_kg_co2", 0.0)),
            "duration_s": metrics.get("duration_s"),
            "energy_method": run.data.tags.get("codecarbon.method", "unknown"),
            "source": f"mlflow run {run.info.run_id}",
        }
    return found


def compression_energy(steps: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Total energy/CO2 of the compression steps found in `steps` (and which were missing)."""
    present = [s for s in COMPRESSION_STEPS if s in steps]
    return {
        "compression_kwh": sum(steps[s]["energy_kwh"] for s in present) if present else None,
        "compression_kg_co2": sum(steps[s]["emissions_kg_co2"] for s in present) if present else None,
        "compression_steps": present,
        "compression_steps_missing": [s for s in COMPRESSION_STEPS if s not in steps],
    }


def payback(
    compression_kwh: float | None, reference_kwh_per_1k: float | None, student_kwh_per_1k: float | None
) -> float | None:
    """Predictions until the student's inference savings over the reference repay the compression
    energy; None when unknown, inf when the student saves nothing."""
    if compression_kwh is None or reference_kwh_per_1k is None or student_kwh_per_1k is None:
        return None
    saving = (reference_kwh_per_1k - student_kwh_per_1k) / 1000
    return compression_kwh / saving if saving > 0 else float("inf")
