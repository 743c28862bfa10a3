"""Peak memory of one benchmark variant, measured in a fresh Python process.

    echo '{"variant": {...}, "texts": [...], "sequence_length": 64, "threads": 2}' \\
        | python -m slimnlp.benchmark.memory

Why a fresh process: the resident-set high-water mark only ever grows, and allocator caches keep
memory of variants loaded earlier, so in-process numbers would charge each variant for the ones
before it. The child imports the libraries (torch, onnxruntime, transformers), resets the kernel's
high-water mark (Linux: `5 > /proc/self/clear_refs` resets VmHWM; importing transformers peaks
above the settled RSS, which would otherwise hide small models), loads the variant, runs two
batches at the largest benchmark batch size and sequence length, and reads VmHWM:
- peak_rss_mb: the whole serving process (interpreter, libraries, model, activations, arenas);
- peak_rss_delta_mb: what serving adds over the imported libraries (weights, arenas, activations).
Without /proc (macOS) it falls back to ru_maxrss, which includes the import peak.
About 5-8 s per variant, mostly imports; `benchmark.peak_memory: off` skips it.
"""

from __future__ import annotations

import gc
import json
import resource
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from slimnlp.benchmark.variants import Variant
from slimnlp.config import BenchmarkConfig


def _proc_status_mb(key: str) -> float | None:
    status = Path("/proc/self/status")
    if not status.is_file():
        return None
    for line in status.read_text(encoding="utf-8").splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) / 1024  # kB
    return None


def _reset_high_water() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False where that is not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5", encoding="utf-8")
    except OSError:
        return False
    return _proc_status_mb("VmHWM") is not None


def _ru_maxrss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes on macOS, KiB on Linux


def peak_memory(variant: Variant, texts: list[str], cfg: BenchmarkConfig) -> dict[str, Any]:
    """{"peak_rss_mb", "peak_rss_delta_mb"} of `variant` serving one batch of `texts`, or Nones
    when cfg.peak_memory is "off"."""
    if cfg.peak_memory == "off":
        return {"peak_rss_mb": None, "peak_rss_delta_mb": None}
    request = {
        "variant": asdict(variant),
        "texts": texts,
        "sequence_length": cfg.sequence_length,
        "threads": cfg.threads,
    }
    done = subprocess.run(
        [sys.executable, "-m", "slimnlp.benchmark.memory"],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"peak-memory probe of variant {variant.name!r} ({variant.path}) failed with exit code "
            f"{done.returncode}:\n{done.stderr[-2000:]}\nSet benchmark.peak_memory=off to skip it."
        )
    return json.loads(done.stdout.strip().splitlines()[-1])


def probe(request: dict[str, Any]) -> dict[str, float | None]:
    """Run inside the child: baseline after imports, then load and serve one batch."""
    # Everything either runtime imports is loaded before the baseline, whatever this variant's runtime.
    import onnxruntime  # noqa: F401
    import torch  # noqa: F401
    from transformers import AutoModelForSequenceClassification, AutoTokenizer  # noqa: F401

    from slimnlp import models  # noqa: F401
    from slimnlp.benchmark.variants import make_runner
    from slimnlp.runtime import onnx, sklearn  # noqa: F401
    from slimnlp.runtime import torch as torch_runner  # noqa: F401

    gc.collect()
    reset = _reset_high_water()
    baseline = _proc_status_mb("VmRSS") if reset else _ru_maxrss_mb()
    runner = make_runner(Variant(**request["variant"]), request["threads"])
    feed = runner.encode(request["texts"], pad_to=request["sequence_length"])
    for _ in range(2):
        runner.run(feed)
    peak = _proc_status_mb("VmHWM") if reset else _ru_maxrss_mb()
    return {"peak_rss_mb": peak, "peak_rss_delta_mb": peak - baseline}


if __name__ == "__main__":
    print(json.dumps(probe(json.loads(sys.stdin.read()))))
