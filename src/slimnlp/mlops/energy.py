"""CodeCarbon, set up and described in one place: the steps' own energy and the benchmark's inference
energy both come from here.

    with step_energy("IND", "prune") as energy:   # fills energy on exit
        ...
    energy  # {"duration_s", "energy_kwh", "emissions_kg_co2", "energy_method", "energy_measured", ...}

How CodeCarbon measures matters more than the number it prints. With Intel RAPL readable it
*measures* CPU package energy; on most cloud VMs and containers (these machines included) it
*estimates* CPU power as TDP x this process's CPU load, and RAM power from its size. Every figure
carries `energy_method` and `energy_measured` so nobody mistakes an estimate for a measurement.
The offline tracker with a country code needs no network: exactly our pods.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from typing import Any

from slimnlp.mlops.resources import peak_rss_gib

log = logging.getLogger(__name__)

MODE_NAMES = {
    "intel_rapl": "measured: Intel RAPL (CPU package)",
    "intel_power_gadget": "measured: Intel Power Gadget",
    "windows_emi": "measured: Windows EMI",
    "cpu_load": "estimated: CPU load x TDP",
    "constant": "estimated: constant fraction of TDP",
}


def make_tracker(country_iso_code: str, name: str, *, measure_power_secs: float, process_only: bool = False):
    """CodeCarbon's offline tracker (no network, no emissions.csv). `process_only` charges only this
    process's CPU load, so other work on a shared machine is not counted."""
    from codecarbon import OfflineEmissionsTracker

    logging.getLogger("codecarbon").setLevel(logging.ERROR)
    extra = {"tracking_mode": "process"} if process_only else {}
    return OfflineEmissionsTracker(
        country_iso_code=country_iso_code,
        project_name=name,
        save_to_file=False,
        log_level="error",
        measure_power_secs=measure_power_secs,
        **extra,
    )


def describe_method(tracker: Any) -> dict[str, Any]:
    """{"energy_method": words, "energy_measured": bool, "cpu_tdp_w": the TDP it assumed} of a tracker."""
    parts, measured, tdp = [], False, None
    for hardware in getattr(tracker, "_hardware", []) or []:
        kind, mode = type(hardware).__name__, getattr(hardware, "_mode", None)
        if kind == "CPU":
            parts.append("CPU " + MODE_NAMES.get(str(mode), f"mode {mode}"))
            measured = mode in ("intel_rapl", "intel_power_gadget", "windows_emi")
            tdp = getattr(hardware, "_tdp", None)
        elif kind == "RAM":
            parts.append("RAM estimated from its size")
        elif kind == "GPU":
            parts.append("GPU measured: NVML")
    return {
        "energy_method": "; ".join(parts) or "unknown",
        "energy_measured": measured,
        "cpu_tdp_w": float(tdp) if isinstance(tdp, int | float) else None,
    }


@contextlib.contextmanager
def step_energy(country_iso_code: str | None, name: str) -> Iterator[dict[str, Any]]:
    """Time a block and, when `country_iso_code` is set, measure its energy; fills the yielded dict
    on exit. Energy is a nice-to-have: CodeCarbon failing to start or stop never fails the block."""
    result: dict[str, Any] = {}
    tracker = None
    if country_iso_code:
        try:
            tracker = make_tracker(country_iso_code, name, measure_power_secs=5)
            tracker.start()
        except Exception as err:
            log.warning("CodeCarbon could not start (%s); energy is not recorded for %s", err, name)
            tracker = None
    start = time.perf_counter()
    try:
        yield result
    finally:
        result["duration_s"] = round(time.perf_counter() - start, 3)
        result["peak_rss_gib"] = peak_rss_gib()
        if tracker is not None:
            try:
                emissions = tracker.stop() or 0.0
                data = tracker.final_emissions_data
                result["energy_kwh"] = float(getattr(data, "energy_consumed", 0.0) or 0.0)
                result["emissions_kg_co2"] = float(emissions)
                result.update(describe_method(tracker))
            except Exception as err:
                log.warning("CodeCarbon could not stop cleanly (%s)", err)
