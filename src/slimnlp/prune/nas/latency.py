"""The latency model: a per-layer table measured in the target runtime, plus fixed costs.

    table = measure_latency_table(model, tokenizer, space, texts, target, workdir)
    table.predict(arch, batch_size=32)       # ms: fixed + sum over kept layers of layer_ms[h][u]

Probe models are sliced copies of the (ordered) teacher, exported and run exactly as the benchmark
runs a student (`slimnlp.export.onnx.export_onnx_model`, `OnnxRunner` with the benchmark's threads,
no spinning, texts padded to its sequence length), all timed interleaved in the same rounds:
- `empty`: no encoder layer (embeddings, pooler, classifier: the fixed cost);
- `full`: the teacher; `heads=h`: every layer with h heads and all units; `units=u`: all heads
  and u units (a few widths, `unit_probes`; the widths between are interpolated linearly).
A layer of (h, u) then costs (T[heads=h] - T[empty]) / L + (T[units=u] - T[full]) / L, L the
teacher's layer count: attention and FFN are separate sub-layers, so their costs add. Every timing
is a median; noise is removed by fitting each series non-decreasing in h and in u (isotonic
regression), so the table is monotone in heads, units and layers by construction (ties broken
toward less work by a hair).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from slimnlp.prune.nas.space import SearchSpace, SubNetwork
from slimnlp.prune.nas.supernet import slice_subnetwork


@dataclass(frozen=True)
class LatencyTarget:
    """Where latency is measured: runtime, intra-op threads, batch sizes, sequence length, rounds."""

    runtime: str = "onnx-int8"
    threads: int = 2
    batch_sizes: tuple[int, ...] = (1, 32)
    sequence_length: int = 64
    rounds: int = 3
    iterations: int = 10
    warmup: int = 2
    export: Any = None  # the run's ExportConfig (None: the defaults)
    unit_probes: int = 4  # FFN widths probed below the full one (the rest interpolated)


@dataclass
class LatencyTable:
    runtime: str
    threads: int
    sequence_length: int
    num_layers: int
    head_choices: list[int]
    unit_choices: list[int]
    fixed_ms: dict[int, float]  # batch size -> embeddings, pooler, classifier
    layer_ms: dict[int, list[list[float]]]  # batch size -> [head choice][unit choice] -> ms per layer
    probes_ms: dict[int, dict[str, float]] = field(default_factory=dict)  # raw medians
    machine: dict[str, Any] = field(default_factory=dict)

    def layer_cost(self, heads: int, units: int, batch_size: int) -> float:
        if heads == 0:
            return 0.0
        return self.layer_ms[batch_size][self.head_choices.index(heads)][self.unit_choices.index(units)]

    def predict(self, arch: SubNetwork, batch_size: int) -> float:
        """Predicted ms per call of `arch` at `batch_size`."""
        return self.fixed_ms[batch_size] + sum(self.layer_cost(h, u, batch_size) for h, u in arch.layers)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def save(self, path: Path) -> Path:
        path.write_text(json.dumps(self.to_dict(), indent=2), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: Path) -> LatencyTable:
        raw = json.loads(path.read_text(encoding="utf-8"))
        for name in ("fixed_ms", "layer_ms", "probes_ms"):
            raw[name] = {int(k): v for k, v in raw[name].items()}
        return cls(**raw)


def monotone(values: list[float]) -> list[float]:
    """The closest non-decreasing sequence in least squares (isotonic regression, scikit-learn)."""
    from sklearn.isotonic import IsotonicRegression

    if len(values) < 2:
        return list(values)
    fitted = IsotonicRegression(increasing=True).fit_transform(np.arange(len(values)), np.asarray(values))
    return [float(v) for v in fitted]


def probed_units(space: SearchSpace, count: int) -> list[int]:
    """The FFN widths below the full one that get a probe: `count` of them evenly spread, the
    narrowest included (the others are interpolated: an FFN's cost is linear in its width)."""
    below = list(space.unit_choices[:-1])
    if len(below) <= count:
        return below
    return sorted({below[round(i * (len(below) - 1) / max(count - 1, 1))] for i in range(count)})


def probe_archs(space: SearchSpace, unit_probes: int) -> dict[str, SubNetwork]:
    """The probe models of a space: empty, full, one per smaller head count and probed FFN width."""
    n, heads, units = space.num_layers, space.head_choices, space.unit_choices
    probes = {"empty": SubNetwork(((0, 0),) * n), "full": SubNetwork(((heads[-1], units[-1]),) * n)}
    probes |= {f"heads={h}": SubNetwork(((h, units[-1]),) * n) for h in heads[:-1]}
    probes |= {f"units={u}": SubNetwork(((heads[-1], u),) * n) for u in probed_units(space, unit_probes)}
    return probes


def table_from_probes(
    space: SearchSpace, medians: dict[int, dict[str, float]], target: LatencyTarget
) -> LatencyTable:
    """Combine probe medians into the per-layer table (see the module docstring)."""
    n, fixed, layer = space.num_layers, {}, {}
    for batch, ms in medians.items():
        head_series = monotone([ms[f"heads={h}"] for h in space.head_choices[:-1]] + [ms["full"]])
        probed = sorted(int(k.split("=")[1]) for k in ms if k.startswith("units="))
        unit_series = monotone([ms[f"units={u}"] for u in probed] + [ms["full"]])
        unit_series = np.interp(space.unit_choices, [*probed, space.unit_choices[-1]], unit_series).tolist()
        fixed[batch] = min(ms["empty"], head_series[0], unit_series[0])
        floor = 1e-3 * max(ms["full"] - fixed[batch], 1e-3) / n
        attention = [(t - fixed[batch]) / n for t in head_series]
        ffn = [(t - unit_series[-1]) / n for t in unit_series]
        grid = np.maximum(np.add.outer(attention, ffn), floor)  # a floor: no layer is free
        grid = np.maximum.accumulate(np.maximum.accumulate(grid, 0), 1)
        # Ties (flat stretches of the fit) are broken toward less work, so that of two sub-networks
        # measured alike the smaller one is predicted faster (by far less than timing noise).
        steps = np.add.outer(np.arange(grid.shape[0]), np.arange(grid.shape[1]))
        layer[batch] = (grid + 1e-6 * float(grid.max()) * steps).tolist()
    return LatencyTable(
        runtime=target.runtime,
        threads=target.threads,
        sequence_length=target.sequence_length,
        num_layers=n,
        head_choices=list(space.head_choices),
        unit_choices=list(space.unit_choices),
        fixed_ms=fixed,
        layer_ms=layer,
        probes_ms=medians,
    )


# --------------------------------------------------------------------------------------------------
# Measuring


def build_runner(model: nn.Module, tokenizer: Any, target: LatencyTarget, workdir: Path, name: str, texts):
    """A runner of `model` in the target runtime (ORT: saved, exported and loaded as the benchmark
    does), and the size on disk of what is served (the ONNX file, or the model directory)."""
    from slimnlp.models import dir_size_bytes, save_model_dir

    model_dir = save_model_dir(model, tokenizer, workdir / name / "model")
    if target.runtime == "pytorch":
        import torch

        from slimnlp.runtime.torch import TorchRunner

        torch.set_num_threads(target.threads)
        return TorchRunner(
            copy.deepcopy(model).cpu().eval(), tokenizer, target.sequence_length
        ), dir_size_bytes(model_dir)
    from slimnlp.config import ExportConfig
    from slimnlp.export.onnx import INT8_FILE, ONNX_FILE, export_onnx_model
    from slimnlp.runtime.onnx import OnnxRunner, onnx_file_bytes

    int8 = target.runtime == "onnx-int8"
    export = dataclasses.replace(target.export or ExportConfig(), quantize_int8=int8, parity_samples=4)
    onnx_dir = workdir / name / "onnx"
    export_onnx_model(model_dir, onnx_dir, texts[:8], export, None, target.sequence_length)
    path = onnx_dir / (INT8_FILE if int8 else ONNX_FILE)
    runner = OnnxRunner(
        path, onnx_dir, threads=target.threads, max_length=target.sequence_length, spinning=False
    )
    return runner, onnx_file_bytes(path)


def time_runners(
    runners: dict[str, Any], texts: list[str], target: LatencyTarget, progress: bool
) -> dict[int, dict[str, float]]:
    """Median ms per call of every runner at every batch size, all interleaved in the same rounds, on
    real texts padded to the target's sequence length (the benchmark's fixed-length points)."""
    from functools import partial

    from tqdm.auto import tqdm

    from slimnlp.benchmark.latency import latency_batch
    from slimnlp.runtime.timing import interleaved_rounds, median

    bar = tqdm(total=len(target.batch_sizes) * target.rounds, desc="nas latency rounds", disable=not progress)
    medians = {}
    for b in target.batch_sizes:
        batch = latency_batch(texts, b)
        calls = {
            name: partial(runner.run, runner.encode(batch, pad_to=target.sequence_length))
            for name, runner in runners.items()
        }
        timed = interleaved_rounds(
            calls, target.rounds, target.iterations, target.warmup, on_round=partial(bar.update, 1)
        )
        medians[b] = {name: median(samples) for name, samples in timed.items()}
    bar.close()
    return medians


def measure_latency_table(
    model: nn.Module,
    tokenizer: Any,
    space: SearchSpace,
    texts: list[str],
    target: LatencyTarget,
    workdir: Path | None = None,
    progress: bool = True,
) -> LatencyTable:
    """Export and time the probe models of `space` (see the module docstring); `workdir` keeps them."""
    from tqdm.auto import tqdm

    from slimnlp.benchmark.facts import environment

    with tempfile.TemporaryDirectory(prefix="slimnlp-nas-probes-") as tmp:
        root = Path(workdir or tmp)
        runners = {}
        for name, arch in tqdm(
            probe_archs(space, target.unit_probes).items(), desc="nas latency probes", disable=not progress
        ):
            probe = slice_subnetwork(copy.deepcopy(model).cpu().eval(), arch)
            runners[name], _ = build_runner(probe, tokenizer, target, root, name.replace("=", "-"), texts)
        medians = time_runners(runners, texts, target, progress)
    table = table_from_probes(space, medians, target)
    table.machine = environment(target.threads)
    return table
