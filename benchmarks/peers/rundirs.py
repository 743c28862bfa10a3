"""Where a run's outputs are: a run made by the step verbs (<run>/<name>) or by `slimnlp run`
(<run>/kfp/<pipeline run>/<step>/<artifact>), and the wall time each step recorded."""

from __future__ import annotations

import json
from pathlib import Path


def newest(pattern: str, root: Path) -> Path | None:
    found = sorted(root.glob(pattern), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None


def find_run_dirs(run: Path) -> dict[str, Path | None]:
    """data, teacher, pruned, distilled, student, onnx of a run made by the step verbs (<run>/<name>) or by
    `slimnlp run` (<run>/kfp/<pipeline run>/<step>/<artifact>, the newest)."""
    direct = {name: run / name for name in ("data", "teacher", "pruned", "distilled", "student", "onnx")}
    if direct["teacher"].is_dir():
        return {k: (v if v.exists() else None) for k, v in direct.items()} | {"recovered": []}
    # A NAS run that recovers several candidates has recover-candidate tasks (one per ParallelFor
    # iteration) and select-student in place of distill and finetune-amp.
    steps = {
        "data": ("prepare-data/*",),
        "teacher": ("train-teacher/*",),
        "pruned": ("prune/*",),
        "distilled": ("distill/*",),
        "student": ("select-student/*", "finetune-amp/*"),
        "onnx": ("export-onnx/*",),
    }
    kfp = newest("kfp/*", run)
    found = {}
    for name, patterns in steps.items():
        hits = [p for pattern in patterns for p in _outputs(kfp, pattern)]
        found[name] = hits[0] if hits else None
    found["recovered"] = _outputs(kfp, "for-loop-*/recover-candidate/*") + _outputs(
        kfp, "recover-candidate/*"
    )
    return found


def _outputs(kfp: Path | None, pattern: str) -> list[Path]:
    """The output folders of a task (not its metrics folder) in a kfp.local run."""
    return sorted(p for p in (kfp.glob(pattern) if kfp else []) if p.is_dir() and p.name != "metrics")


def step_wall_s(step_dir: Path | None) -> float | None:
    """wall_time_s of a step output (its metrics.json, or the KFP executor output beside it)."""
    if step_dir is None:
        return None
    for path in (step_dir / "metrics.json", step_dir.parent / "executor_output.json"):
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            data = json.loads(text)
            if isinstance(data, dict) and "wall_time_s" in data:
                return float(data["wall_time_s"])
            marker = '"wall_time_s": '
            if marker in text:
                return float(text.split(marker, 1)[1].split(",")[0].split("}")[0])
    return None
