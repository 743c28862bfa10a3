"""Checks before the first step, in a few seconds: everything a run needs that a person can fix.

    slimnlp preflight --config C      # also the first thing `slimnlp run` does (--skip-preflight: not)

One `Problem` per fault, each naming the config key and the fix:
- data files (local, s3://, http(s)://) exist and are readable, with data.text_column and
  data.label_column among a local file's columns;
- teacher.checkpoint resolves: a local folder with config.json and whole weights (a truncated
  model.safetensors is caught from its header), an s3:// prefix that holds config.json, or a hub
  name in the local cache or answered by the hub;
- the MLflow tracking server answers (when tracking goes to a server);
- S3 credentials work for every bucket an s3:// value of the config names;
- the output folder is writable and its disk has room for the run's estimated size.
Network checks run side by side, each with a short timeout.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import shutil
import struct
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TIMEOUT_S = 3.0


@dataclass(frozen=True)
class Problem:
    key: str  # the config key (or environment variable) to change
    message: str  # what is wrong and what to do

    def __str__(self) -> str:
        return f"{self.key}: {self.message}"


def preflight(cfg: Any, timeout_s: float = TIMEOUT_S) -> list[Problem]:
    """Every problem found, in check order; [] when the run can start."""
    checks: list[Callable[[], list[Problem]]] = [
        lambda: check_output(cfg),
        lambda: check_data(cfg),
        lambda: check_teacher(cfg, timeout_s),
        lambda: check_tracking(cfg, timeout_s),
        lambda: check_s3(cfg, timeout_s),
    ]
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(checks)) as pool:
        results = list(pool.map(_safely, checks))
    return [problem for found in results for problem in found]


def _safely(check: Callable[[], list[Problem]]) -> list[Problem]:
    try:
        return check()
    except Exception as err:  # noqa: BLE001 - a broken check must not stop the others
        return [Problem("preflight", f"a check failed unexpectedly: {type(err).__name__}: {err}")]


def format_problems(problems: list[Problem]) -> str:
    lines = [f"preflight found {len(problems)} problem(s); nothing was run:"]
    lines += [f"  - {problem}" for problem in problems]
    lines.append("fix them (or pass --skip-preflight to start anyway)")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------
# Output folder and disk


def check_output(cfg: Any) -> list[Problem]:
    run_dir = Path(cfg.run_dir).expanduser().resolve()
    existing = next(p for p in (run_dir, *run_dir.parents) if p.exists())
    probe = existing / f".slimnlp-preflight-{uuid.uuid4().hex[:8]}"
    try:
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as err:
        return [
            Problem(
                "output_dir",
                f"cannot write in {existing} ({err.strerror or err}); set output_dir to a writable folder",
            )
        ]
    need, free = estimate_run_bytes(cfg), shutil.disk_usage(existing).free
    if free < need:
        return [
            Problem(
                "output_dir",
                f"{existing} has {_mb(free)} free and the run needs about {_mb(need)} (estimate: 12x the "
                "teacher's weights + 3x the data + 64 MB); free some space or set output_dir elsewhere",
            )
        ]
    return []


def estimate_run_bytes(cfg: Any) -> int:
    """A generous guess of what a run writes: each model directory (teacher, pruned, distilled,
    student, ONNX fp32 and int8) twice (the step output and its MLflow copy), the data three times."""
    weights = _local_size(cfg.teacher.checkpoint) if cfg.teacher.checkpoint else 0
    if not weights:
        t = cfg.teacher
        params = t.vocab_size * t.hidden_size + t.num_layers * (
            4 * t.hidden_size**2 + 2 * t.hidden_size * t.intermediate_size
        )
        weights = 4 * params
    data = sum(_local_size(uri) for _, uri in _data_uris(cfg))
    return 12 * weights + 3 * data + 64 * 2**20


def _local_size(uri: str | None) -> int:
    if not uri or "://" in uri or not Path(uri).expanduser().exists():
        return 0
    path = Path(uri).expanduser()
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _mb(size: int) -> str:
    return f"{size / 2**20:,.0f} MB"


# --------------------------------------------------------------------------------------------------
# Data


def _data_uris(cfg: Any) -> list[tuple[str, str]]:
    """(config key, file or folder) of the data the run reads; [] for the shipped sample."""
    data = cfg.data
    found = []
    for split in ("train", "dev", "test"):
        name = getattr(data, f"{split}_file")
        if name is None:
            continue
        if data.dir and "://" not in name and not Path(name).expanduser().is_absolute():
            name = data.dir.rstrip("/") + "/" + name if "://" in data.dir else str(Path(data.dir) / name)
        found.append((f"data.{split}_file", name))
    if data.dir and not data.train_file:
        found.insert(0, ("data.dir", data.dir))
    return found


def check_data(cfg: Any) -> list[Problem]:
    problems = []
    for key, uri in _data_uris(cfg):
        if "://" in uri or uri.startswith("hub:"):
            continue  # s3:// in check_s3; http(s) and hub datasets are fetched by prepare-data
        path = Path(uri).expanduser()
        if not path.exists():
            problems.append(Problem(key, f"{path} does not exist; fix the path (or the data.dir it joins)"))
            continue
        problems += _check_local_data(cfg, key, path)
    return problems


def _check_local_data(cfg: Any, key: str, path: Path) -> list[Problem]:
    from slimnlp.data.errors import DataError
    from slimnlp.data.sources import detect_split_files
    from slimnlp.data.tables import detect_format

    try:
        files = list(detect_split_files(path).values()) if path.is_dir() else [path]
        problems = []
        for file in files:
            columns = read_columns(file, detect_format(file.name, cfg.data.file_format))
            for column_key in ("text_column", "label_column"):
                column = getattr(cfg.data, column_key)
                if column not in columns:
                    problems.append(
                        Problem(
                            f"data.{column_key}",
                            f"{file} has no column {column!r}; its columns are {columns}; set "
                            f"data.{column_key} to the one holding the {column_key.split('_')[0]}s",
                        )
                    )
        return problems
    except DataError as err:
        return [Problem(key, str(err))]
    except (OSError, ValueError, UnicodeDecodeError) as err:
        return [Problem(key, f"{path} cannot be read: {type(err).__name__}: {err}; check the file")]


def read_columns(path: Path, fmt: str) -> list[str]:
    """The column names of a data file, from its first line or schema only."""
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return [str(name) for name in pq.read_schema(path).names]
    import pandas as pd

    if fmt in ("csv", "tsv"):
        frame = pd.read_csv(path, sep="\t" if fmt == "tsv" else ",", nrows=1, dtype=str, encoding="utf-8-sig")
        return [str(c) for c in frame.columns]
    with open(path, encoding="utf-8-sig") as handle:
        head = handle.read(1 << 16).lstrip()
    if head.startswith("["):  # one JSON array of records
        head = head[1:].lstrip()
        return list(json.JSONDecoder().raw_decode(head)[0])
    line = next((line for line in head.splitlines() if line.strip()), "{}")
    return list(json.loads(line))


# --------------------------------------------------------------------------------------------------
# Teacher checkpoint


def check_teacher(cfg: Any, timeout_s: float) -> list[Problem]:
    checkpoint = cfg.teacher.checkpoint
    if not checkpoint or checkpoint.startswith("s3://"):
        return []  # built from the config; or checked with the other s3:// values (check_s3)
    path = Path(checkpoint).expanduser()
    if path.exists():
        problem = check_model_dir(path)
        return [Problem("teacher.checkpoint", problem)] if problem else []
    if checkpoint.startswith((".", "/", "~")) or checkpoint.count("/") > 1:
        return [Problem("teacher.checkpoint", f"{path} does not exist; fix the path")]
    return _check_hub_model(checkpoint, timeout_s)


def check_model_dir(path: Path) -> str | None:
    """What is wrong with a local model folder (None when it looks whole)."""
    if not path.is_dir():
        return f"{path} is a file; point teacher.checkpoint at the model's folder"
    if not (path / "config.json").is_file():
        return f"{path} has no config.json; point teacher.checkpoint at a Hugging Face model folder"
    weights = sorted(path.glob("*.safetensors")) + sorted(path.glob("pytorch_model*.bin"))
    if not weights:
        return f"{path} has no weights (model.safetensors or pytorch_model.bin); save the model again"
    for file in (w for w in weights if w.suffix == ".safetensors"):
        problem = safetensors_problem(file)
        if problem:
            return problem
    return None


def safetensors_problem(file: Path) -> str | None:
    """A truncated or damaged .safetensors file, told from its header alone (no tensor is read)."""
    size = file.stat().st_size
    try:
        with open(file, "rb") as handle:
            (header_len,) = struct.unpack("<Q", handle.read(8))
            if header_len > size - 8:
                raise ValueError("header longer than the file")
            header = json.loads(handle.read(header_len))
    except (struct.error, ValueError) as err:
        return f"{file} is not a readable safetensors file ({err}); copy or save it again"
    end = max((t["data_offsets"][1] for k, t in header.items() if k != "__metadata__"), default=0)
    if 8 + header_len + end > size:
        return (
            f"{file} is truncated: {size:,} bytes, its header describes {8 + header_len + end:,}; "
            "copy or download it again"
        )
    return None


def _check_hub_model(name: str, timeout_s: float) -> list[Problem]:
    import huggingface_hub as hub

    if isinstance(hub.try_to_load_from_cache(name, "config.json"), str):
        return []
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")
    if not offline:
        try:
            hub.get_hf_file_metadata(hub.hf_hub_url(name, "config.json"), timeout=timeout_s)
            return []
        except Exception as err:  # noqa: BLE001 - any failure means it cannot be resolved now
            why = f"the hub did not answer ({type(err).__name__})"
    else:
        why = "HF_HUB_OFFLINE is set"
    return [
        Problem(
            "teacher.checkpoint",
            f"{name!r} is not a local folder, not in the Hugging Face cache, and {why}; download it "
            "first, or point teacher.checkpoint at a local folder or s3:// prefix",
        )
    ]


# --------------------------------------------------------------------------------------------------
# Tracking server and S3


def server_answers(uri: str, timeout_s: float = TIMEOUT_S) -> bool:
    """Whether an MLflow server answers GET /health."""
    import requests

    try:
        return requests.get(uri.rstrip("/") + "/health", timeout=timeout_s).status_code == 200
    except requests.RequestException:
        return False


def check_tracking(cfg: Any, timeout_s: float) -> list[Problem]:
    # As slimnlp.mlops.tracking.tracking_uri decides, without creating the SQLite store's folder.
    uri = cfg.tracking.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or ""
    if not uri.startswith(("http://", "https://")) or server_answers(uri, timeout_s):
        return []
    key = "tracking.tracking_uri" if cfg.tracking.tracking_uri else "MLFLOW_TRACKING_URI"
    return [
        Problem(
            key,
            f"the MLflow server {uri} does not answer; start it (`slimnlp mlflow-server`), or point "
            f"{key} at one that runs (unset it to track in SQLite under the run folder)",
        )
    ]


def _s3_values(values: Any, key: str = "") -> list[tuple[str, str]]:
    if isinstance(values, dict):
        return [f for k, v in values.items() for f in _s3_values(v, f"{key}.{k}" if key else str(k))]
    if isinstance(values, list | tuple):
        return [f for v in values for f in _s3_values(v, key)]
    return [(key, values)] if isinstance(values, str) and values.startswith("s3://") else []


def check_s3(cfg: Any, timeout_s: float) -> list[Problem]:
    """Every s3:// value of the config: its bucket answers with these credentials, its object or
    prefix exists (data files joined to data.dir included)."""
    values = _s3_values(cfg.to_dict())
    values += [(k, u) for k, u in _data_uris(cfg) if u.startswith("s3://") and (k, u) not in values]
    if not values:
        return []
    from slimnlp.mlops.storage import s3_client

    client = s3_client(timeout_s=timeout_s)
    problems, bad_buckets = [], set()
    for key, uri in values:
        problem = _check_s3_uri(client, key, uri, bad_buckets)
        if problem:
            problems.append(Problem(key, problem))
    return problems


def _check_s3_uri(client: Any, key: str, uri: str, bad_buckets: set[str]) -> str | None:
    from slimnlp.mlops.storage import describe_error, split_s3_uri

    bucket, name = split_s3_uri(uri)
    if bucket in bad_buckets:
        return f"{uri}: same bucket as above"
    try:
        client.head_bucket(Bucket=bucket)
    except Exception as err:  # noqa: BLE001 - described for people below
        bad_buckets.add(bucket)
        return describe_error(err, uri) + _endpoint_hint(err, client)
    try:
        if name == "" or name.endswith("/") or key in ("data.dir", "teacher.checkpoint"):
            listed = client.list_objects_v2(Bucket=bucket, Prefix=name, MaxKeys=1)
            if not listed.get("KeyCount"):
                return f"{uri}: no objects under this prefix; check the URI"
        else:
            client.head_object(Bucket=bucket, Key=name)
    except Exception as err:  # noqa: BLE001
        return describe_error(err, uri)
    return None


def _endpoint_hint(err: Exception, client: Any) -> str:
    if type(err).__name__ in ("EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError"):
        return f" (the S3 endpoint {client.meta.endpoint_url} does not answer; check AWS_ENDPOINT_URL)"
    return ""


def run_preflight(cfg: Any) -> tuple[list[Problem], float]:
    """The problems and the seconds the checks took."""
    start = time.perf_counter()
    problems = preflight(cfg)
    return problems, time.perf_counter() - start
