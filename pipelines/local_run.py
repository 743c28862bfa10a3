"""Run the compress pipeline on this machine with kfp.local, all steps under one MLflow parent run.

    slimnlp run --set data.max_train_rows=100

Every task runs as a subprocess of this Python (SubprocessRunner(use_venv=False)), so the steps
use the installed slimnlp. Task outputs land in `<run dir>/kfp/<pipeline>-<timestamp>/<task>/`;
the pipeline returns the benchmark output, whose results are copied to `<run dir>/report/`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import re
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from slimnlp.config import RunConfig
from slimnlp.mlops.resume import CACHE, resume_env
from slimnlp_pipelines.interrupt import sigterm_stops_tasks, wait_for_tasks
from slimnlp_pipelines.live import ANSI, LiveTable, StepLogs, headline, log_tail, step_error
from slimnlp_pipelines.run_report import LocalRun, step_times, write_report


class PipelineFailed(RuntimeError):
    """A task of the local pipeline run failed; its log was streamed above."""


# --------------------------------------------------------------------------------------------------
# Running


def run_local(
    cfg: RunConfig,
    *,
    resume: bool = False,
    cache: bool = True,
    verbose: bool = True,
    resume_command: str = "slimnlp run --resume",
    out: TextIO | None = None,
) -> LocalRun:
    """Run the whole pipeline locally; raises PipelineFailed (parent run marked FAILED) on a failure.

    Args:
        cfg: The run config.
        resume: Reuse every step recorded as finished with the same key (slimnlp.mlops.resume).
        cache: Without `resume`: reuse the finished steps whose key is unchanged except prepare-data
            (it always reads the data, so new bytes behind one path rerun everything after it) and
            promote (it moves registry aliases). The same keys as KFP's cache: each step's config
            slice and the content of its inputs. False: every step runs.
        verbose: Stream every task's output as kfp.local prints it; otherwise one row per step.
            Either way each step's full output goes to `<run dir>/logs/<step>.log` and its MLflow run.
        resume_command: The command a failure message tells the user to run.
        out: Where rows and messages go (default sys.stdout).
    """
    from slimnlp.mlops.tracking import parent_run, tracking_uri

    out = out or sys.stdout
    # Images, resources and display names only matter on a cluster; kfp.local says so per task.
    warnings.filterwarnings("ignore", message=r".*no effect in the current local runner.*")
    warnings.filterwarnings("ignore", message=r".*non-Python base image.*")
    run_dir = cfg.run_dir.resolve()
    pipeline_root = run_dir / "kfp"
    uri = tracking_uri(cfg)
    with _quiet_libraries(not verbose):
        _close_orphaned_runs(cfg)
        pipeline = _build(cfg, pipeline_root)
        started = time.perf_counter()
        before = set(pipeline_root.glob("*")) if pipeline_root.exists() else set()
        tags = {"slimnlp.resume": "true"} if resume else None
        with parent_run(cfg, tags=tags) as parent_id:
            run = LocalRun(
                run_dir=run_dir, parent_run_id=parent_id, tracking_uri=uri, config=cfg, live=not verbose
            )
            run.log_dir = run_dir / "logs"
            table = LiveTable(out) if not verbose else None
            logs = _step_logs(run, table, pipeline_root, before, echo=out if verbose else None)
            if table is not None:
                how = "resuming: finished steps with unchanged inputs are reused" if resume else "running"
                table.header(f"slimnlp run {cfg.name} ({how}); full logs in {run.log_dir}/")
            try:
                reuse = True if resume else (CACHE if cache else False)
                with logs, contextlib.redirect_stdout(logs), resume_env(reuse), _parent_env(parent_id):
                    with sigterm_stops_tasks():
                        task = pipeline(**_arguments(cfg, parent_id, uri))
            except (RuntimeError, KeyboardInterrupt) as err:
                run.wall_s = time.perf_counter() - started
                run.pipeline_dir = _new_pipeline_dir(pipeline_root, before)
                _stopped(run, logs, table, err, out)
                if isinstance(err, KeyboardInterrupt):
                    raise
                raise PipelineFailed(_failure_message(err, run, logs, resume_command)) from err
            finally:
                if table is not None:
                    table.stop()
                _log_step_logs(cfg, parent_id, logs.paths)
    run.wall_s = time.perf_counter() - started
    run.reused = tuple(sorted(logs.reused))
    # The pipeline returns the benchmark task's output: <pipeline_root>/<pipeline run>/benchmark/results.
    run.results_dir = Path(task.output.path)
    run.pipeline_dir = run.results_dir.parent.parent
    run.steps = step_times(run.pipeline_dir)
    run.report_dir = write_report(run)
    return run


def _arguments(cfg: RunConfig, parent_id: str, uri: str) -> dict[str, str]:
    """The pipeline's run parameters here: the config is compiled in (the grid's travels as JSON)."""
    arguments = {"parent_run_id": parent_id, "tracking_uri": uri}
    return arguments | ({"config_json": cfg.to_json()} if cfg.grid.enabled else {})


@contextlib.contextmanager
def _parent_env(parent_id: str) -> Iterator[None]:
    """The steps find the parent run through SLIMNLP_PARENT_RUN_ID, which their subprocesses inherit:
    not a task input, so it stays out of the tasks' keys."""
    from slimnlp.mlops.tracking import PARENT_RUN_ENV

    before = os.environ.get(PARENT_RUN_ENV)
    os.environ[PARENT_RUN_ENV] = parent_id
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(PARENT_RUN_ENV, None)
        else:
            os.environ[PARENT_RUN_ENV] = before


def _build(cfg: RunConfig, pipeline_root: Path) -> Any:
    from kfp import local

    from slimnlp_pipelines.compress import build_pipeline

    local.init(
        runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(pipeline_root), raise_on_error=True
    )
    # Retries are for evicted pods on a cluster; kfp.local honours them too, and a step that failed
    # here (bad input, a bug) fails again after minutes of backoff.
    pipeline_cfg = dataclasses.replace(cfg, kubernetes=dataclasses.replace(cfg.kubernetes, retries=0))
    if cfg.grid.enabled:  # the paper's grid: one teacher, a ParallelFor of branches, one table
        from slimnlp_pipelines.grid import build_grid_pipeline

        return build_grid_pipeline(pipeline_cfg)
    return build_pipeline(pipeline_cfg)


def _step_logs(
    run: LocalRun, table: LiveTable | None, pipeline_root: Path, before: set[Path], echo: TextIO | None
) -> StepLogs:
    """Per-step log files; each finished step becomes a table row with its headline figures."""

    def on_end(step: str, status: str) -> None:
        if step in logs.reused:
            _record_reuse(run, step, logs.reused[step])
        if table is None:
            return
        pipeline_dir = _new_pipeline_dir(pipeline_root, before)
        info = step_times(pipeline_dir).get(step, {}) if pipeline_dir else {}
        if status != "SUCCESS":
            table.end(step, "FAILED", (step_error(logs.log_path(step)) or "")[:160])
            return
        word = "reused" if step in logs.reused else "done"
        # The wall time the step measured itself (as the summary always showed), else this side's.
        wall = info.get("wall_time_s")
        table.end(step, word, headline(info.get("metrics", {})), wall if isinstance(wall, float) else None)

    logs = StepLogs(run.log_dir, echo=echo, on_start=table.start if table else None, on_end=on_end)
    return logs


def _record_reuse(run: LocalRun, step: str, record_file: Path) -> None:
    """A FINISHED MLflow step run under this parent for a step --resume reused (metrics, source)."""
    from slimnlp.mlops.tracking import reused_step_run

    record = json.loads(record_file.read_text(encoding="utf-8"))
    reused_step_run(run.config, re.sub(r"-\d+$", "", step), run.parent_run_id, record)


def _stopped(run: LocalRun, logs: StepLogs, table: LiveTable | None, err: BaseException, out: TextIO) -> None:
    """A task failed or the run was interrupted: its row, the tail of its log, tasks wound down."""
    interrupted = isinstance(err, KeyboardInterrupt)
    if interrupted:
        wait_for_tasks()
    running, step = logs.current(), logs.stopped_step()
    if step is None or table is None:
        return
    if running is not None:  # no "finished" line came: interrupted, or the task could not start
        figures = "interrupted" if interrupted else (step_error(logs.log_path(step)) or "")
        table.end(step, "stopped" if interrupted else "FAILED", figures[:160])
    if not interrupted:
        out.write(f"\n--- last lines of {logs.log_path(step)} ---\n")
        out.write("\n".join(log_tail(logs.log_path(step))) + "\n")
        out.flush()


def _new_pipeline_dir(pipeline_root: Path, before: set[Path]) -> Path | None:
    created = [p for p in pipeline_root.glob("*") if p.is_dir() and p not in before]
    return max(created, key=lambda p: p.stat().st_mtime) if created else None


def _failure_message(err: RuntimeError, run: LocalRun, logs: StepLogs, resume_command: str) -> str:
    text = ANSI.sub("", str(err))
    failed = re.search(r"Task '([^']+)' finished with status", text) or re.search(
        r"Inner task failed: '([^']+)'", text
    )
    step = failed.group(1) if failed else logs.stopped_step()
    where = f"step {step!r}" if step else "a step"
    own = step_error(logs.log_path(step)) if step else None
    if own is None:
        try:  # the step's own message (file, column, key...) as its MLflow run recorded it
            from slimnlp.mlops.tracking import step_errors

            own = "; ".join(step_errors(run.config, run.parent_run_id).values()) or None
        except Exception:  # noqa: BLE001 - the summary must not hide the original failure
            own = None
    lines = [f"the pipeline failed in {where}" + (f": {own}" if own else "")]
    if step and logs.log_path(step):
        lines.append(f"  its log:  {logs.log_path(step)}")
    lines.append(f"  resume:   {resume_command}   (finished steps are reused, not recomputed)")
    hint = _tracking_hint(run.tracking_uri)
    if hint:
        lines.append(f"  {hint}")
    lines.append(
        f"  MLflow parent run {run.parent_run_id} is marked FAILED; outputs so far are in "
        f"{run.pipeline_dir or run.run_dir}"
    )
    return "\n".join(lines)


def _tracking_hint(uri: str) -> str | None:
    """When the tracking server is down the step's error is a connection error: say what to do."""
    if not uri.startswith(("http://", "https://")):
        return None
    from slimnlp.preflight import server_answers

    if server_answers(uri):
        return None
    return f"the MLflow tracking server {uri} does not answer: start it again, then resume"


@contextlib.contextmanager
def _quiet_libraries(quiet: bool) -> Iterator[None]:
    """Without --verbose, MLflow's and alembic's INFO lines (database setup) stay out of the way."""
    import mlflow  # noqa: F401 - it sets its loggers' levels when first imported: before ours

    names = ("mlflow", "alembic")
    before = {name: logging.getLogger(name).level for name in names}
    if quiet:
        for name in names:
            logging.getLogger(name).setLevel(logging.WARNING)
    try:
        yield
    finally:
        for name, level in before.items():
            logging.getLogger(name).setLevel(level)


def _close_orphaned_runs(cfg: RunConfig) -> None:
    from slimnlp.mlops.tracking import close_orphaned_runs

    closed = close_orphaned_runs(cfg)
    if closed:
        print(f"closed {len(closed)} MLflow run(s) left RUNNING by a process that is gone: marked FAILED")


def _log_step_logs(cfg: RunConfig, parent_id: str, paths: dict[str, Path]) -> None:
    """Each step's log file to its MLflow step run (logs/<step>.log); never fails the run."""
    from slimnlp.mlops.tracking import log_step_logs

    try:
        log_step_logs(cfg, parent_id, paths)
    except Exception as err:  # noqa: BLE001 - the logs stay on disk; the run's own outcome matters
        logging.getLogger(__name__).warning("step logs not logged to MLflow: %s", str(err)[:200])
