"""The compress pipeline on a Kubeflow Pipelines server: uploaded as a pipeline with versions, run
and scheduled by version.

    slimnlp upload   --host https://kfp.example.org --config configs/my-cluster.yaml
    slimnlp submit   --host https://kfp.example.org --config configs/my-cluster.yaml \\
        --param data_dir=s3://ml-data/shc-2026-12 --param max_drop_vs_teacher=0.01
    slimnlp schedule --host https://kfp.example.org --cron "0 3 * * 1" --config configs/my-cluster.yaml

The pipeline's name comes from the config (`slimnlp-<name>`; the grid's `slimnlp-grid-<name>`), a
version's from slimnlp's version and the config's digest (`0.1.0-3f2a9c1e0b7d`): the same config
uploads nothing new, a changed one (any `--set`, `kubernetes.*` included) is a new version. `submit`
and `schedule` upload the version when it is missing, then run it; a recurring run points at its
version, so uploading a new one does not move it (schedule again on the new version to move it).
What changes per run without a new version are the run parameters (`--param`, see
`slimnlp compile`'s list).

kfp is imported inside functions: the `slimnlp` CLI imports this module only when a KFP verb runs.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slimnlp_pipelines.kfp_client import KfpError, Target, api_errors, connect, experiment_id

if TYPE_CHECKING:
    import kfp

    from slimnlp.config import RunConfig


@dataclass(frozen=True)
class Version:
    """A pipeline version on the server."""

    pipeline_id: str
    version_id: str
    pipeline_name: str
    version_name: str
    uploaded: bool  # False: it was already there


def pipeline_name(cfg: RunConfig) -> str:
    return f"slimnlp-grid-{cfg.name}" if cfg.grid.enabled else f"slimnlp-{cfg.name}"


def version_name(cfg: RunConfig) -> str:
    from slimnlp.mlops.resume import _version
    from slimnlp.mlops.run_parameters import config_digest

    return f"{_version()}-{config_digest(cfg)}"


def run_url(host: str, run_id: str) -> str:
    return f"{host.rstrip('/')}/#/runs/details/{run_id}"


def parse_params(cfg: RunConfig, items: list[str]) -> dict[str, Any]:
    """`--param NAME=VALUE` as run parameters, each of its type; `overrides=K=V` adds to the list.

    Raises:
        KfpError: An unknown name or a value of the wrong type, naming the parameters.
    """
    from slimnlp_pipelines.compress import pipeline_parameters

    kinds = {name: kind for name, kind, _ in pipeline_parameters(cfg)}
    params: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or name not in kinds:
            raise KfpError(f"--param {item!r}: use NAME=VALUE with NAME one of {', '.join(kinds)}")
        if kinds[name] is list:
            params.setdefault(name, []).append(value)
            continue
        try:
            params[name] = kinds[name](value) if kinds[name] is not bool else value.lower() in ("1", "true")
        except ValueError:
            raise KfpError(f"--param {name}={value!r}: {name} is a {kinds[name].__name__}") from None
    return params


def upload(client: kfp.Client, cfg: RunConfig) -> Version:
    """The config's pipeline version on the server: found by name, else uploaded (with the pipeline
    itself when it is new)."""
    from slimnlp_pipelines.compress import compile_pipeline

    name, version = pipeline_name(cfg), version_name(cfg)
    with api_errors(f"looking up pipeline {name!r}"):
        pipeline_id = client.get_pipeline_id(name)
        found = _find_version(client, pipeline_id, version) if pipeline_id else None
    if found:
        return Version(pipeline_id, found, name, version, uploaded=False)
    with tempfile.TemporaryDirectory(prefix="slimnlp-kfp-") as folder:
        package = str(compile_pipeline(cfg, Path(folder) / "pipeline.yaml"))
        description = f"slimnlp compress pipeline for {cfg.name} (slimnlp upload)"
        if pipeline_id is None:
            with api_errors(f"creating pipeline {name!r}"):
                pipeline_id = client.upload_pipeline(
                    package, pipeline_name=name, description=description
                ).pipeline_id
        with api_errors(f"uploading version {version!r} of pipeline {name!r}"):
            uploaded = client.upload_pipeline_version(
                package,
                pipeline_version_name=version,
                pipeline_id=pipeline_id,
                description=f"slimnlp {version.split('-')[0]}, config digest {version.rsplit('-', 1)[1]}",
            )
    return Version(pipeline_id, uploaded.pipeline_version_id, name, version, uploaded=True)


def _find_version(client: kfp.Client, pipeline_id: str, version: str) -> str | None:
    predicate = {"operation": "EQUALS", "key": "display_name", "stringValue": version}
    page = client.list_pipeline_versions(pipeline_id, filter=json.dumps({"predicates": [predicate]}))
    for found in page.pipeline_versions or []:
        if found.display_name == version:
            return found.pipeline_version_id
    return None


def _run_parameters(cfg: RunConfig, target: Target, params: dict[str, Any], cache: bool) -> dict[str, Any]:
    """The run's parameters: what --param set, the tracking URI, the KFP UI's address (each MLflow
    run links its KFP run page) and, for --no-cache, cache=False. The grid pipeline takes only its
    config and the tracking settings."""
    if cfg.grid.enabled:
        return {"tracking_uri": target.tracking_uri} if target.tracking_uri else {}
    run = {"kfp_host": target.host.rstrip("/"), **params}
    if target.tracking_uri:
        run["tracking_uri"] = target.tracking_uri
    if not cache:
        run["cache"] = False
    return run


def _connect(target: Target) -> tuple[kfp.Client, str]:
    client = connect(target.host, target.token_file, target.namespace)
    return client, experiment_id(client, target.experiment, target.namespace, target.create_experiment)


def submit(
    cfg: RunConfig,
    target: Target,
    params: dict[str, Any] | None = None,
    run_name: str | None = None,
    cache: bool = True,
) -> tuple[str, Version]:
    """Start one run of the config's pipeline version (uploaded when missing); returns the run id."""
    from slimnlp_pipelines.compress import build_pipeline

    build_pipeline(cfg)  # a config that does not compile fails before any request
    client, exp_id = _connect(target)
    version = upload(client, cfg)
    name = run_name or f"{cfg.name} {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M:%S}"
    with api_errors(f"creating run {name!r}"):
        run = client.run_pipeline(
            experiment_id=exp_id,
            job_name=name,
            pipeline_id=version.pipeline_id,
            version_id=version.version_id,
            params=_run_parameters(cfg, target, params or {}, cache),
        )
    return run.run_id, version


def schedule(
    cfg: RunConfig,
    target: Target,
    kfp_cron: str,
    params: dict[str, Any] | None = None,
    name: str | None = None,
    catchup: bool = False,
) -> tuple[str, Version]:
    """Create a recurring run of the config's pipeline version (uploaded when missing); returns its id.

    Args:
        cfg: The run config (its pipeline version is what the schedule runs).
        target: Server, experiment and tracking URI.
        kfp_cron: Six-field cron (from `to_kfp_cron`).
        params: Run parameters (`--param`), the same for every run of the schedule.
        name: Display name; default `<cfg.name>-retrain`.
        catchup: Backfill runs missed while paused (off: one retrain covers them all).
    """
    client, exp_id = _connect(target)
    name = name or f"{cfg.name}-retrain"
    _refuse_duplicate(client, exp_id, name)
    version = upload(client, cfg)
    with api_errors(f"creating recurring run {name!r}"):
        recurring = client.create_recurring_run(
            experiment_id=exp_id,
            job_name=name,
            description=f"slimnlp retraining of {cfg.name} on cron {kfp_cron} (version {version.version_name})",
            cron_expression=kfp_cron,
            max_concurrency=1,  # a retrain must not overlap the previous one
            no_catchup=not catchup,
            params=_run_parameters(cfg, target, params or {}, cache=True),
            pipeline_id=version.pipeline_id,
            version_id=version.version_id,
        )
    return recurring.recurring_run_id, version


def _refuse_duplicate(client: kfp.Client, exp_id: str, name: str) -> None:
    """KFP allows two recurring runs with one name; two schedules would retrain twice."""
    predicate = {"operation": "EQUALS", "key": "display_name", "stringValue": name}
    with api_errors(f"looking up recurring run {name!r}"):
        page = client.list_recurring_runs(
            experiment_id=exp_id, filter=json.dumps({"predicates": [predicate]})
        )
    for run in page.recurring_runs or []:
        if run.display_name == name:
            raise KfpError(
                f"a recurring run named {name!r} already exists ({run.recurring_run_id}); delete it with "
                f"`slimnlp schedules delete {run.recurring_run_id}` or pass another --name"
            )
