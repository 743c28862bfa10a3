"""What the benchmark measures: a Variant is one model in one runtime, with its role in the comparison.

from slimnlp.benchmark.variants import Variant, make_runner
v = Variant("student-onnx-int8", "onnx-int8", "runs/x/onnx/model.int8.onnx", "runs/x/onnx", "student",
            "runs/x/student")
runner = make_runner(v, threads=2)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from slimnlp.runtime import ONNX_RUNTIMES, RUNTIMES, Runner, load_runner

ROLES = ("teacher", "student", "baseline")


@dataclass
class Variant:
    """One model in one runtime.

    Attributes:
        name: Unique display name (e.g. "student-onnx-int8").
        runtime: "pytorch", "onnx", "onnx-int8" or "sklearn" (a `slimnlp.benchmark.baselines` directory).
        path: The model directory (pytorch, sklearn) or the .onnx file (onnx, onnx-int8).
        tokenizer_dir: Directory holding the tokenizer.
        role: "teacher", "student" or "baseline".
        model_dir: The PyTorch model directory (parameters and FLOPs are counted there).
        compression_kwh: Energy spent making this student from the teacher (prune, distill,
            fine-tune, export), for the carbon payback; None when unknown.
    """

    name: str
    runtime: str
    path: str
    tokenizer_dir: str
    role: str
    model_dir: str
    compression_kwh: float | None = None

    def check(self) -> None:
        if self.runtime not in RUNTIMES:
            raise ValueError(
                f"variant {self.name!r}: runtime must be one of {RUNTIMES}, got {self.runtime!r}"
            )
        if self.role not in ROLES:
            raise ValueError(f"variant {self.name!r}: role must be one of {ROLES}, got {self.role!r}")
        want_file = self.runtime in ONNX_RUNTIMES
        ok = Path(self.path).is_file() if want_file else Path(self.path).is_dir()
        if not ok:
            what = "an .onnx file (run export-onnx first)" if want_file else "a model directory"
            raise FileNotFoundError(f"variant {self.name!r}: {self.path} is not {what}")


def make_runner(variant: Variant, threads: int) -> Runner:
    """Load a variant for inference, threads pinned; ORT threads do not spin between calls (spinning
    idle sessions took the cores from whichever variant was being timed)."""
    return load_runner(
        variant.runtime,
        variant.path,
        model_dir=variant.model_dir,
        tokenizer_dir=variant.tokenizer_dir,
        threads=threads,
        spinning=False,
    )
