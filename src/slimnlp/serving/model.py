"""What `slimnlp serve` serves: the registered pyfunc, from the registry or from a run directory.

    model = load_served("models:/slimnlp-marathi-sample@champion")   # MLFLOW_TRACKING_URI's registry
    model = load_served("runs/marathi-sample")                       # its student, int8 by default
    model = load_served("runs/marathi-sample", role="teacher")       # its teacher, served the same way
    model.predict(pd.DataFrame({"text": ["शेअर बाजार आज घसरला"]}))

A run directory, an export-onnx output or the benchmark's teacher export is packaged on the fly into
the very pyfunc the promote step registers (`slimnlp.promote.promotion.package_model`), so a model
served from a run dir answers as the registered one would.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ServeInputError(ValueError):
    """`--model` names nothing that can be served; the message says what was looked for."""


@dataclass
class ServedModel:
    """A loaded pyfunc and what people need to know about it (shown on /ready)."""

    pyfunc: Any
    source: str
    info: dict[str, Any] = field(default_factory=dict)

    def predict(self, frame: Any) -> Any:
        return self.pyfunc.predict(frame)

    @property
    def input_schema(self) -> Any:
        return self.pyfunc.metadata.get_input_schema()


def load_served(target: str, role: str = "student", variant: str | None = None) -> ServedModel:
    """Load `target`: a `models:/` (or `runs:/`) URI, a pyfunc directory (with an MLmodel file), a
    run directory, or an export-onnx output directory. `variant` (int8 | fp32) picks the ONNX file
    when the model is packaged here; a registered model serves the variant it was registered with."""
    import mlflow

    path = Path(target)
    if target.startswith(("models:/", "runs:/")) or "://" in target:
        if variant is not None:
            raise ServeInputError(
                f"--variant applies to a run or export directory; {target} serves the variant it was "
                "registered with (registry.serve_variant)"
            )
        return _described(mlflow.pyfunc.load_model(target), target)
    if (path / "MLmodel").is_file():
        return _described(mlflow.pyfunc.load_model(str(path)), str(path))
    onnx_dir = onnx_dir_of(path, role)
    return _package_and_load(onnx_dir, variant or "int8")


def onnx_dir_of(path: Path, role: str = "student") -> Path:
    """The export directory of `role` (student or teacher) in a run directory, or `path` itself."""
    if (path / "model.onnx").is_file():
        return path
    if not path.is_dir():
        raise ServeInputError(
            f"{path} does not exist; pass models:/<name>@champion, a run directory (runs/<name>) or an "
            "export-onnx output directory"
        )
    run_json = path / "report" / "run.json"
    if role == "teacher":
        candidate = path / "report" / "teacher_onnx"
    elif run_json.is_file():
        outputs = (
            json.loads(run_json.read_text(encoding="utf-8"))["steps"]
            .get("export-onnx", {})
            .get("outputs", {})
        )
        candidate = Path(next(iter(outputs.values()), path / "missing"))
    else:
        candidate = path / "missing"
    if not (candidate / "model.onnx").is_file():
        raise ServeInputError(
            f"{path} holds no {role} ONNX export (looked for {candidate}/model.onnx, from "
            f"{run_json if role == 'student' else 'the benchmark report'}); finish the run "
            "(`slimnlp run --resume`) or pass an export-onnx output directory"
        )
    return candidate


def _package_and_load(onnx_dir: Path, variant: str) -> ServedModel:
    import mlflow

    from slimnlp.promote.promotion import SERVED_FILES, package_model

    if variant not in SERVED_FILES:
        raise ServeInputError(f"--variant must be one of {sorted(SERVED_FILES)}, got {variant!r}")
    # The package lives as long as the process: the pyfunc reads its files once, at load.
    staging = Path(tempfile.mkdtemp(prefix="slimnlp-serve-"))
    model_dir = package_model(onnx_dir, staging / "model", variant)
    return _described(mlflow.pyfunc.load_model(str(model_dir)), str(onnx_dir))


def _described(pyfunc: Any, source: str) -> ServedModel:
    inner = pyfunc.unwrap_python_model()
    served = getattr(inner, "served", {"variant": "fp32", "onnx_file": "model.onnx"})
    info = {
        "source": source,
        "variant": served.get("variant"),
        "onnx_file": served.get("onnx_file"),
        "providers": list(getattr(inner, "providers", [])),
        "labels": list(getattr(inner, "labels", [])),
    }
    return ServedModel(pyfunc, source, info)
