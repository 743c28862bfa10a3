"""MLflow runs and CodeCarbon energy around every step.

One parent run per pipeline run, one nested run per step. A step run that raises is marked FAILED
and what it already logged stays; earlier steps' runs and artifacts are untouched.

    with parent_run(cfg) as parent_id:
        with step_run(cfg, "train-teacher", parent_id) as run:
            run.log_metrics({"dev_accuracy": 0.8}, step=1)

When KFP's MLflow integration injects MLFLOW_RUN_ID / MLFLOW_TRACKING_URI, steps nest under that run.

No run is left RUNNING: SIGTERM inside a step arrives as KeyboardInterrupt and marks the step run
FAILED; a run whose process died without closing it (SIGKILL, OOM, the tracking server down at that
moment) carries its host and pid as tags and is marked FAILED by the next `close_orphaned_runs`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from slimnlp.config import RunConfig
from slimnlp.mlops.energy import step_energy
from slimnlp.mlops.interrupt import sigterm_as_interrupt
from slimnlp.mlops.lineage import kfp_parent, lineage_tags

log = logging.getLogger(__name__)

PARENT_RUN_ENV = "SLIMNLP_PARENT_RUN_ID"
_LAST_STEP_RUN: dict[str, str] = {}  # the step run this process finished last (resume records it)


def _process_tags() -> dict[str, str]:
    """Who holds a run open: a later run closes it when that process is gone (close_orphaned_runs)."""
    return {"slimnlp.host": socket.gethostname(), "slimnlp.pid": str(os.getpid())}


def tracking_uri(cfg: RunConfig) -> str:
    """The config's tracking.tracking_uri > MLFLOW_TRACKING_URI (what KFP injects) > SQLite in the run dir.

    An explicit config wins because `mlflow.set_tracking_uri` also sets the environment variable, so
    the environment may hold whatever an earlier run in the same process used.
    """
    if cfg.tracking.tracking_uri:
        return cfg.tracking.tracking_uri
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return env
    db = (cfg.run_dir / "mlflow.db").resolve()
    db.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{db}"


def artifact_location(cfg: RunConfig) -> str | None:
    """Local artifact root for a SQLite store (a server decides its own)."""
    uri = tracking_uri(cfg)
    if uri.startswith("sqlite:") or uri.startswith("file:"):
        return (cfg.run_dir / "mlartifacts").resolve().as_uri()
    return None


def _setup(cfg: RunConfig) -> str:
    import mlflow

    mlflow.set_tracking_uri(tracking_uri(cfg))
    client = mlflow.MlflowClient()
    from mlflow.exceptions import MlflowException

    name = cfg.tracking.experiment
    if (experiment := client.get_experiment_by_name(name)) is not None:
        return experiment.experiment_id
    try:
        return client.create_experiment(name, artifact_location=artifact_location(cfg))
    except MlflowException as err:  # two runs starting at once on a fresh server: one creates it
        found = client.get_experiment_by_name(name) if "ALREADY_EXISTS" in str(err.error_code) else None
        if found is None:
            raise
        return found.experiment_id


def flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            flat.update(flatten(value, name))
        else:
            flat[name] = value
    return flat


def numeric_metrics(values: dict[str, Any]) -> dict[str, float]:
    """The flat numeric entries of a (nested) metrics dict: what MLflow can log as metrics."""
    return {
        k: float(v)
        for k, v in flatten(values).items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }


@contextlib.contextmanager
def parent_run(cfg: RunConfig, tags: dict[str, str] | None = None) -> Iterator[str]:
    """Start the pipeline's parent run; yields its id. Marked FAILED if the block raises."""
    import mlflow

    experiment_id = _setup(cfg)
    client = mlflow.MlflowClient()
    run = client.create_run(
        experiment_id, run_name=cfg.name, tags={"slimnlp.kind": "pipeline", **_process_tags(), **(tags or {})}
    )
    run_id = run.info.run_id
    client.log_dict(run_id, cfg.to_dict(), "config.json")
    for key, value in flatten(cfg.to_dict()).items():
        client.log_param(run_id, key, str(value)[:6000])
    try:
        yield run_id
    except BaseException as err:
        _close_failed(client, experiment_id, run_id, err)
        raise
    client.set_terminated(run_id, "FINISHED")


def _close_failed(client: Any, experiment_id: str, run_id: str, err: BaseException) -> None:
    """Mark a failed parent run and its open step runs FAILED; when the tracking server is down
    too, say so and leave them to the next run's close_orphaned_runs (never hide `err`)."""
    try:
        if isinstance(err, KeyboardInterrupt):
            client.set_tag(run_id, "slimnlp.error", "interrupted (Ctrl-C or SIGTERM)")
        fail_open_children(client, experiment_id, run_id)
        client.set_terminated(run_id, "FAILED")
    except Exception as mark_err:  # noqa: BLE001 - the original error is the one to report
        log.warning(
            "could not mark MLflow run %s FAILED (%s: %s); the next `slimnlp run` closes it",
            run_id,
            type(mark_err).__name__,
            str(mark_err)[:200],
        )


def close_orphaned_runs(cfg: RunConfig) -> list[str]:
    """Mark FAILED the runs of this experiment still RUNNING whose process on this host is gone
    (killed with SIGKILL, out of memory, or unable to reach the tracking server when it ended)."""
    import mlflow

    experiment_id = _setup(cfg)
    client = mlflow.MlflowClient()
    host = socket.gethostname()
    stale = client.search_runs(
        [experiment_id],
        filter_string=f"attributes.status = 'RUNNING' and tags.`slimnlp.host` = '{host}'",
        max_results=1000,
    )
    closed = []
    for run in stale:
        pid = run.data.tags.get("slimnlp.pid", "")
        if pid.isdigit() and not _alive(int(pid)):
            client.set_tag(
                run.info.run_id,
                "slimnlp.error",
                f"process {pid} ended without closing this run (killed, or the tracking server was "
                "down); closed by a later run",
            )
            client.set_terminated(run.info.run_id, "FAILED")
            closed.append(run.info.run_id)
    return closed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def step_errors(cfg: RunConfig, parent_id: str) -> dict[str, str]:
    """The error each failed step recorded under a parent run (tag slimnlp.error), by step name."""
    import mlflow

    mlflow.set_tracking_uri(tracking_uri(cfg))
    client = mlflow.MlflowClient()
    experiment_id = client.get_run(parent_id).info.experiment_id
    runs = client.search_runs([experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent_id}'")
    return {
        r.data.tags.get("slimnlp.step", r.info.run_name): r.data.tags["slimnlp.error"]
        for r in runs
        if "slimnlp.error" in r.data.tags
    }


def fail_open_children(client: Any, experiment_id: str, parent_id: str) -> list[str]:
    """Mark FAILED the step runs still RUNNING under a failed parent (a task killed by OOM or a
    timeout never closes its own run)."""
    open_runs = client.search_runs(
        [experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent_id}' and attributes.status = 'RUNNING'",
    )
    for run in open_runs:
        client.set_terminated(run.info.run_id, "FAILED")
    return [run.info.run_id for run in open_runs]


@dataclass
class StepRun:
    """What a step logs through; a thin layer over MlflowClient with one fixed run id."""

    run_id: str
    client: Any
    energy: dict[str, Any] = field(default_factory=dict)
    # What the step finished with (`finish`): written to out_dir/metrics.json once, with the step's
    # energy, after the energy tracker has stopped; then logged to MLflow.
    out_dir: Path | None = None
    result: dict[str, Any] | None = None
    log_output: bool = True
    parent_id: str | None = None  # the pipeline's parent run (given, injected or found by KFP run id)

    def finish(self, out_dir: Path, metrics: dict[str, Any], log_output: bool = True) -> dict[str, Any]:
        """Hand over the step's metrics; `step_run` writes and logs them when the step's block ends.
        `log_output=False` keeps the output directory out of the run's artifacts (promote)."""
        self.out_dir, self.result, self.log_output = Path(out_dir), metrics, log_output
        return metrics

    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        values = numeric_metrics(metrics)
        if not values:
            return
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self.client.log_batch(self.run_id, metrics=[Metric(k, v, now, step or 0) for k, v in values.items()])

    def log_params(self, params: dict[str, Any]) -> None:
        for key, value in flatten(params).items():
            self.client.log_param(self.run_id, key, str(value)[:6000])

    def log_dict(self, values: dict[str, Any], name: str) -> None:
        self.client.log_dict(self.run_id, values, name)

    def log_artifacts(self, local_dir: str | Path, artifact_path: str | None = None) -> None:
        self.client.log_artifacts(self.run_id, str(local_dir), artifact_path)

    def log_artifact(self, local_file: str | Path, artifact_path: str | None = None) -> None:
        self.client.log_artifact(self.run_id, str(local_file), artifact_path)


def resolve_parent_run_id(parent_run_id: str | None) -> str | None:
    return parent_run_id or os.environ.get(PARENT_RUN_ENV) or os.environ.get("MLFLOW_RUN_ID") or None


def pipeline_run_for_kfp(cfg: RunConfig, parent_run_id: str | None, lineage: dict[str, str]) -> str:
    """The MLflow parent run of a KFP run, tagged with its KFP run id, name and UI URL (`lineage`):
    the injected `parent_run_id` when there is one, else the run already tagged with this KFP run id
    (a retried task), else a new one (slimnlp.mlops.lineage)."""
    import mlflow

    from slimnlp.mlops.lineage import open_pipeline_run

    experiment_id = _setup(cfg)
    parent = resolve_parent_run_id(parent_run_id)
    return open_pipeline_run(mlflow.MlflowClient(), experiment_id, parent, lineage, cfg.name, cfg.to_dict())


@contextlib.contextmanager
def step_run(
    cfg: RunConfig, step: str, parent_run_id: str | None = None, params: dict[str, Any] | None = None
) -> Iterator[StepRun]:
    """A nested MLflow run for one step, with CodeCarbon around it.

    On an exception the run is marked FAILED (with the error as a tag) and the error propagates.
    """
    import mlflow

    experiment_id = _setup(cfg)
    client = mlflow.MlflowClient()
    parent = resolve_parent_run_id(parent_run_id) or kfp_parent(client)
    tags = {"slimnlp.step": step, "slimnlp.kind": "step", **_process_tags(), **lineage_tags(client, parent)}
    if parent:
        tags["mlflow.parentRunId"] = parent
        # A step run lives beside its parent, also when KFP injected a parent of another experiment.
        experiment_id = client.get_run(parent).info.experiment_id
    run = client.create_run(experiment_id, run_name=step, tags=tags)
    step_run_ = StepRun(run.info.run_id, client, parent_id=parent)
    if params:
        step_run_.log_params(params)
    country = cfg.tracking.country_iso_code if cfg.tracking.codecarbon else None
    energy: dict[str, Any] = {}
    try:
        with sigterm_as_interrupt(), step_energy(country, step) as energy:
            yield step_run_
        _log_energy(step_run_, energy)
        _write_result(step_run_)
        client.set_terminated(run.info.run_id, "FINISHED")
    except BaseException as err:
        _mark_step_failed(step_run_, energy, err)
        raise
    _LAST_STEP_RUN["id"] = run.info.run_id


def last_step_run_id() -> str | None:
    """The id of the step run this process finished last (None before any)."""
    return _LAST_STEP_RUN.get("id")


def _mark_step_failed(run: StepRun, energy: dict[str, Any], err: BaseException) -> None:
    """Tag the error and mark the step run FAILED; a tracking server that is down as well must
    not hide the step's own error (the next run closes the run: close_orphaned_runs)."""
    message = "interrupted (Ctrl-C or SIGTERM)" if isinstance(err, KeyboardInterrupt) else f"{err}"
    try:
        run.client.set_tag(run.run_id, "slimnlp.error", f"{type(err).__name__}: {message}"[:5000])
        _log_energy(run, energy)
        run.client.set_terminated(run.run_id, "FAILED")
    except Exception as mark_err:  # noqa: BLE001
        log.warning("could not mark step run %s FAILED: %s", run.run_id, str(mark_err)[:200])


def reused_step_run(cfg: RunConfig, step: str, parent_run_id: str | None, record: dict[str, Any]) -> str:
    """A FINISHED step run under this parent for a step reused by `--resume`: the recorded metrics,
    and tags pointing at the run and the output directory that computed them."""
    import mlflow

    experiment_id = _setup(cfg)
    client = mlflow.MlflowClient()
    parent = resolve_parent_run_id(parent_run_id) or kfp_parent(client)
    tags = {
        **lineage_tags(client, parent),
        "slimnlp.step": step,
        "slimnlp.kind": "step",
        "slimnlp.reused": "true",
        "slimnlp.reused_from_dir": str(record.get("out_dir")),
        "slimnlp.resume_key": str(record.get("key")),
    }
    if record.get("step_run_id"):
        tags["slimnlp.reused_from_run"] = record["step_run_id"]
    if parent:
        tags["mlflow.parentRunId"] = parent
        experiment_id = client.get_run(parent).info.experiment_id
    run = client.create_run(experiment_id, run_name=step, tags=tags)
    StepRun(run.info.run_id, client).log_metrics(record.get("metrics") or {})
    client.set_terminated(run.info.run_id, "FINISHED")
    return run.info.run_id


def _log_energy(run: StepRun, energy: dict[str, Any]) -> None:
    run.energy = dict(energy)
    run.log_metrics({k: v for k, v in energy.items() if k != "energy_method"})
    if "energy_method" in energy:
        run.client.set_tag(run.run_id, "codecarbon.method", energy["energy_method"])


def _write_result(run: StepRun) -> None:
    """The one write of a step's metrics.json (its metrics and its own energy as step_*), then the
    metrics and the output directory to MLflow."""
    if run.result is None or run.out_dir is None:
        return
    write_json(
        run.out_dir / "metrics.json", {**run.result, **{f"step_{k}": v for k, v in run.energy.items()}}
    )
    run.log_metrics(run.result)
    if run.log_output:
        run.log_artifacts(run.out_dir, run.out_dir.name or "output")


def write_json(path: str | Path, values: dict[str, Any]) -> None:
    Path(path).write_text(json.dumps(values, indent=2, sort_keys=True, default=str), encoding="utf-8")


def log_step_logs(cfg: RunConfig, parent_id: str, paths: dict[str, Path]) -> None:
    """Log each step's log file (`<run dir>/logs/<step>.log`) to that step's run under `parent_id`,
    as `logs/<step>.log`. A step that ran several times (the grid's branches: prune, prune-2, ...)
    is matched to its runs in start order."""
    import mlflow

    mlflow.set_tracking_uri(tracking_uri(cfg))
    client = mlflow.MlflowClient()
    experiment_id = client.get_run(parent_id).info.experiment_id
    runs = client.search_runs(
        [experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent_id}'", order_by=["start_time ASC"]
    )
    by_step: dict[str, list[str]] = {}
    for run in runs:
        by_step.setdefault(run.data.tags.get("slimnlp.step", run.info.run_name), []).append(run.info.run_id)
    for name, path in paths.items():
        step, _, index = name.rpartition("-")
        if not (index.isdigit() and step in by_step):
            step, index = name, "1"
        ids = by_step.get(step, [])
        if len(ids) >= int(index) and Path(path).is_file():
            client.log_artifact(ids[int(index) - 1], str(path), "logs")
