"""A pipeline run's typed parameters, each task's slice of the config, and the data's fingerprint.

    cfg = apply_parameters(base_json, {"data_dir": "s3://ml-data/shc", "max_drop_vs_teacher": 0.01},
                           overrides=["distill.epochs=2"])
    task_config(step_spec("prune"), cfg)      # JSON of what prune reads, and where it logs
    data_fingerprint(cfg)                     # sha256 of the bytes (or S3 ETags) behind data.*

The compiled config is the default of every run; what people change per run is a parameter here
(one row of PARAMETERS: the KFP parameter, the config key, its type) or an `overrides` entry in
`--set` form. The `resolve-config` task applies them and hands each step only the config that step
reads (`slimnlp.steps.spec.step_config`), so KFP's cache key for a task changes exactly when its
result could. Torch-free and kfp-free.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Keys every task receives beyond what it reads: where it logs and records, not what it computes.
CONTEXT_KEYS = ("name", "output_dir", "tracking")


@dataclass(frozen=True)
class RunParameter:
    """One typed pipeline parameter: the KFP parameter name, the config key it sets, its type."""

    name: str
    key: str  # dotted config key
    type: type
    help: str


PARAMETERS: tuple[RunParameter, ...] = (
    RunParameter("data_dir", "data.dir", str, "folder, s3:// or http(s):// prefix holding the data files"),
    RunParameter("train_file", "data.train_file", str, "training file (relative to data_dir, or a URI)"),
    RunParameter("dev_file", "data.dev_file", str, "dev file; split off train when empty"),
    RunParameter("test_file", "data.test_file", str, "test file; split off train when empty"),
    RunParameter(
        "teacher_checkpoint", "teacher.checkpoint", str, "teacher: hub name, folder or s3:// prefix"
    ),
    RunParameter("prune_method", "prune.method", str, "registered pruning method (importance, nas, ...)"),
    RunParameter(
        "max_drop_vs_teacher", "registry.max_drop_vs_teacher", float, "accuracy budget of the promotion gate"
    ),
    RunParameter("registered_model_name", "registry.model_name", str, "MLflow registered model name"),
)


def _get(values: dict[str, Any], key: str) -> Any:
    for part in key.split("."):
        values = values.get(part) if isinstance(values, dict) else None
    return values


def parameter_defaults(cfg: Any) -> dict[str, Any]:
    """Each parameter's default: the compiled config's value ("" where the config has none)."""
    values = cfg.to_dict()
    defaults = {}
    for param in PARAMETERS:
        value = _get(values, param.key)
        defaults[param.name] = param.type(value) if value is not None else ("" if param.type is str else 0.0)
    return defaults


def apply_parameters(base_json: str, params: dict[str, Any], overrides: list[str] | None = None) -> Any:
    """The run's config: the compiled one, each parameter that differs from its default set on it,
    then the `--set`-style overrides (they win). An empty string leaves a key as compiled.

    Raises:
        ConfigError: An unknown parameter, or a value or override the config rejects (key named).
    """
    from slimnlp.config import ConfigError, config_from_dict, config_from_json

    base = config_from_json(base_json)
    defaults = parameter_defaults(base)
    known = {p.name: p for p in PARAMETERS}
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise ConfigError(f"unknown pipeline parameter(s) {unknown}; the parameters are {sorted(known)}")
    sets = []
    for name, value in params.items():
        # Inside a KFP struct every value arrives as text: each parameter has its own type.
        value = known[name].type(value) if value not in ("", None) else None
        if value is None or value == defaults[name]:
            continue
        sets.append(f"{known[name].key}={json.dumps(value) if known[name].type is str else value}")
    for text in overrides or []:
        if not isinstance(text, str) or "=" not in text:
            raise ConfigError(f"overrides entry {text!r} must look like key.path=value (as --set)")
    return config_from_dict(base.to_dict(), [*sets, *(overrides or [])])


def task_config(step: Any, cfg: Any) -> str:
    """The config JSON a KFP task of `step` receives: what it reads (its cache key) and where it logs."""
    from slimnlp.steps.spec import step_config

    values = cfg.to_dict()
    sliced = {**step_config(step, cfg), **{k: values[k] for k in CONTEXT_KEYS}}
    if "benchmark" in sliced and "registry" not in sliced:
        # RunConfig checks benchmark.runtimes against registry.enabled: a slice keeps the switch.
        sliced["registry"] = {"enabled": cfg.registry.enabled}
    return json.dumps(sliced, sort_keys=True)


def resolve_run(
    base_json: str,
    parameters: dict[str, Any],
    overrides: list[str],
    parent_run_id: str,
    tracking_uri: str,
    kfp_run_id: str,
    kfp_run_name: str,
    kfp_host: str,
    cache: bool = True,
) -> tuple[str, ...]:
    """What the resolve-config task returns: one task config per step of the step list, in its
    order, then the data's fingerprint (unique to this run when `cache` is false); on the way, the MLflow parent run is opened (or the injected
    one found) and tagged with the KFP run's id, name and UI URL."""
    import os

    from slimnlp.mlops.tracking import pipeline_run_for_kfp
    from slimnlp.steps.spec import CANDIDATE_STEPS, STEPS

    cfg = apply_parameters(base_json, parameters, overrides)
    if tracking_uri:
        os.environ["MLFLOW_TRACKING_URI"] = tracking_uri
    ui_url = f"{kfp_host.rstrip('/')}/#/runs/details/{kfp_run_id}" if kfp_host and kfp_run_id else ""
    lineage = {"kfp.run_id": kfp_run_id, "kfp.run_name": kfp_run_name, "kfp.ui_url": ui_url}
    parent = pipeline_run_for_kfp(cfg, parent_run_id, lineage)
    fingerprint = data_fingerprint(cfg)
    if not cache:  # every later task's key then differs from every earlier run's
        fingerprint = f"{fingerprint}:no-cache:{kfp_run_id}"
    print(f"MLflow parent run {parent}; data fingerprint {fingerprint[:16]}", flush=True)
    return (*(task_config(step, cfg) for step in STEPS + CANDIDATE_STEPS), fingerprint)


def config_digest(cfg: Any, length: int = 12) -> str:
    """A short digest of the whole config (a pipeline version's name)."""
    return hashlib.sha256(cfg.to_json().encode()).hexdigest()[:length]


# --------------------------------------------------------------------------------------------------
# The data's fingerprint


def data_locations(cfg: Any) -> list[str]:
    """Every data location the config names (data.dir and the split files, joined to it when relative);
    none means the shipped sample."""
    data = cfg.data
    files = [f for f in (data.train_file, data.dev_file, data.test_file) if f]
    if not data.dir:
        return files
    joined = [f if "://" in f or Path(f).is_absolute() else f"{data.dir.rstrip('/')}/{f}" for f in files]
    return joined or [data.dir]


def data_fingerprint(cfg: Any) -> str:
    """SHA-256 over what the data locations hold: the bytes of local files and folders, the ETags and
    sizes of S3 objects, the ETag / Last-Modified / length an http(s) server answers; a hub name
    counts by its name. Same bytes behind the same or another URI: same fingerprint."""
    from slimnlp.mlops.resume import dir_digest

    locations = data_locations(cfg)
    if not locations:
        locations = [str(Path(__file__).resolve().parents[1] / "data" / "sample")]
    parts = []
    for location in locations:
        if location.startswith("s3://"):
            parts.append(_s3_digest(location))
        elif location.startswith(("http://", "https://")):
            parts.append(_http_digest(location))
        elif Path(location).expanduser().exists():
            parts.append(dir_digest(Path(location).expanduser()))
        else:
            parts.append(location)
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _s3_digest(uri: str) -> str:
    from slimnlp.mlops.storage import s3_client, split_s3_uri

    bucket, key = split_s3_uri(uri)
    client = s3_client()
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key)
    objects = sorted((o["Key"], o["ETag"], o["Size"]) for page in pages for o in page.get("Contents", []))
    return json.dumps(objects) if objects else uri


def _http_digest(url: str) -> str:
    import requests

    try:
        head = requests.head(url, allow_redirects=True, timeout=30).headers
    except requests.RequestException:
        return url
    return json.dumps([url, *(head.get(k, "") for k in ("ETag", "Last-Modified", "Content-Length"))])
