"""Resume a local run: reuse every finished step whose inputs and config section are unchanged.

    slimnlp run --config C            # every step writes a record when it finishes
    slimnlp run --config C --resume   # a step whose key has a record is copied, not recomputed

A step's key is the SHA-256 of: the step's name, slimnlp's version, the global seed, the step's
config it reads (`steps.spec.step_config`: its section, its declared reads and its pruning
method's), the content of each input directory (`dir_digest`) and of every local file or folder its section names (the data files of prepare-data,
a local `teacher.checkpoint`). When a step finishes, `<run dir>/resume/<step>/<key>.json` records
its output directory, that directory's digest and the step's metrics. With `--resume`, a step whose
key has a record, and whose recorded output is still on disk unchanged, gets that output copied
(hard links) into its own output directory and returns the recorded metrics; the first step whose
key differs reruns, and so does everything after it whose inputs then differ. A step with side
effects (`Step.side_effects`: promote) is never reused and never recorded.

Remote files (`s3://`, `http(s)://`, hub names) count as unchanged while their URI is.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

RESUME_ENV = "SLIMNLP_RESUME"  # "1": reuse recorded steps (set by `slimnlp run --resume`)
# `slimnlp run` without --no-cache: reuse like --resume, except the steps that read the outside
# world (no inputs: prepare-data, whose files may change behind one URI) or change it (promote).
CACHE = "cache"
RECORD_DIR = "resume"
REUSED_LINE = "slimnlp: reused "  # how a reused step says so in its log (pipelines/live.py reads it)
# Files a step writes that do not make its output different: its metrics (wall time, energy).
NOT_CONTENT = frozenset({"metrics.json"})
# Above this size a file counts by its size and modification time, not its bytes (hashing a
# multi-GB corpus on every resume would cost more than it saves).
HASH_LIMIT_BYTES = 256 * 2**20


def resume_requested(step: str | None = None) -> bool:
    mode = os.environ.get(RESUME_ENV)
    if mode == CACHE and step is not None:
        from slimnlp.steps.spec import step_spec

        spec = step_spec(step)
        return bool(spec.inputs) and not spec.side_effects
    return mode == "1"


@contextlib.contextmanager
def resume_env(enabled: bool | str) -> Iterator[None]:
    """Set SLIMNLP_RESUME for the step subprocesses started inside the block, then restore it
    (True: reuse every recorded step, CACHE: all but prepare-data and promote, False: none)."""
    before = os.environ.get(RESUME_ENV)
    os.environ[RESUME_ENV] = enabled if isinstance(enabled, str) else ("1" if enabled else "0")
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(RESUME_ENV, None)
        else:
            os.environ[RESUME_ENV] = before


# --------------------------------------------------------------------------------------------------
# Digests and keys


def dir_digest(path: str | Path) -> str:
    """SHA-256 over a directory's files (relative names and bytes), metrics.json left out."""
    root = Path(path)
    digest = hashlib.sha256()
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    for file in files:
        if file.name in NOT_CONTENT:
            continue
        digest.update(file.relative_to(root).as_posix().encode() if file != root else b".")
        digest.update(b"\0")
        digest.update(_file_digest(file).encode())
    return digest.hexdigest()


def _input_digest(value: Any) -> Any:
    """One input directory's digest, or a list of them (grid-collect takes every branch's row)."""
    if isinstance(value, list | tuple):
        return [_input_digest(v) for v in value]
    return dir_digest(value)


def _file_digest(file: Path) -> str:
    stat = file.stat()
    if stat.st_size > HASH_LIMIT_BYTES:
        return f"size={stat.st_size},mtime_ns={stat.st_mtime_ns}"
    digest = hashlib.sha256()
    with open(file, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _local_paths(values: Any) -> list[str]:
    """Every string in a config section that names an existing local file or folder."""
    if isinstance(values, dict):
        return [p for v in values.values() for p in _local_paths(v)]
    if isinstance(values, list | tuple):
        return [p for v in values for p in _local_paths(v)]
    if isinstance(values, str) and "://" not in values and values and len(values) < 4096:
        with contextlib.suppress(OSError):
            if Path(values).expanduser().exists():
                return [values]
    return []


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("slimnlp")
    except PackageNotFoundError:
        return "unknown"


def step_key(cfg: Any, step: str, inputs: dict[str, str], values: dict[str, Any] | None = None) -> str:
    """The key under which a finished step is recorded (see the module docstring)."""
    from slimnlp.steps.spec import step_config, step_spec

    sections = step_config(step_spec(step), cfg)  # what the step reads, from the step list
    payload = {
        "step": step,
        "version": _version(),
        "sections": sections,
        "values": values or {},
        "inputs": {name: _input_digest(path) for name, path in sorted(inputs.items()) if path},
        "files": {path: dir_digest(path) for path in sorted(set(_local_paths(sections)))},
    }
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


# --------------------------------------------------------------------------------------------------
# Records


def record_path(run_dir: str | Path, step: str, key: str) -> Path:
    return Path(run_dir) / RECORD_DIR / step / f"{key}.json"


def write_record(
    run_dir: str | Path, step: str, key: str, out_dir: str | Path, metrics: dict, step_run_id: str | None
) -> Path:
    """Record a finished step (written to a temporary name and renamed: never half a record)."""
    path = record_path(run_dir, step, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "step": step,
        "key": key,
        "out_dir": str(Path(out_dir).resolve()),
        "output_digest": dir_digest(out_dir),
        "metrics": metrics,
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "step_run_id": step_run_id,
    }
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(record, indent=2, sort_keys=True, default=str), encoding="utf-8")
    os.replace(tmp, path)
    return path


def find_record(run_dir: str | Path, step: str, key: str) -> dict[str, Any] | None:
    """The record of a finished step with this key whose output is still on disk, unchanged."""
    path = record_path(run_dir, step, key)
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    out = Path(record.get("out_dir", ""))
    if not out.is_dir() or dir_digest(out) != record.get("output_digest"):
        return None  # deleted or changed since: recompute
    return record


def copy_output(source: str | Path, dest: str | Path) -> None:
    """Put a recorded output into this run's output directory: hard links where possible (steps
    write new directories, never edit an input in place), else copies."""
    source, dest = Path(source), Path(dest)
    if source.resolve() == dest.resolve():
        return
    dest.mkdir(parents=True, exist_ok=True)
    for file in sorted(p for p in source.rglob("*") if p.is_file()):
        target = dest / file.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.unlink(missing_ok=True)
        try:
            os.link(file, target)
        except OSError:
            shutil.copy2(file, target)


def run_or_reuse(
    cfg: Any,
    step: str,
    out_dir: str,
    inputs: dict[str, str],
    run: Callable[[], dict[str, Any]],
    *,
    values: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run a step, or with SLIMNLP_RESUME=1 reuse its recorded output; record it when it finishes.

    A record is written only after the step returned, so a step stopped halfway (Ctrl-C, SIGTERM,
    a crash) has none and reruns; every step that finished before it is reused. A step with side
    effects outside its output directory (promote: the model registry) always runs: a copy of its
    output would not redo them.
    """
    from slimnlp.steps.spec import step_spec

    if step_spec(step).side_effects:
        return run()
    run_dir = Path(cfg.run_dir).resolve()
    try:
        key = step_key(cfg, step, inputs, values)
    except OSError as err:  # an input that cannot be hashed: run the step, record nothing
        log.warning("%s: no resume key (%s); the step runs and is not recorded", step, err)
        return run()
    record = find_record(run_dir, step, key) if resume_requested(step) else None
    if record is not None:
        copy_output(record["out_dir"], out_dir)
        # `slimnlp run` reads this line and opens the step's MLflow run (tracking.reused_step_run)
        # in its own process, where the tracking store is already open: seconds saved per step.
        print(f"{REUSED_LINE}{step} from {record['out_dir']} (record {record_path(run_dir, step, key)})")
        return dict(record["metrics"])
    from slimnlp.mlops.tracking import last_step_run_id

    result = run()
    try:
        write_record(run_dir, step, key, out_dir, result, last_step_run_id())
    except OSError as err:  # a read-only or full disk must not fail a step that finished
        log.warning("%s finished but its resume record was not written (%s)", step, err)
    return result
