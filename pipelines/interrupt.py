"""Stopping `slimnlp run`: SIGTERM and Ctrl-C reach the kfp.local task subprocesses, which mark
their own MLflow runs FAILED (slimnlp.mlops.tracking.step_run) before the parent run is closed.

Ctrl-C in a terminal reaches every process of the foreground group; SIGTERM (`kill PID`, a job
scheduler, a container stop) reaches only `slimnlp run`, which passes it on to the running task.
"""

from __future__ import annotations

import contextlib
import signal
import time
from typing import Any

from slimnlp.mlops.interrupt import sigterm_as_interrupt


def task_processes() -> list[Any]:
    """The kfp.local task subprocesses of this process (never other children, e.g. test servers)."""
    import psutil

    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if _running(child) and "executor_main" in " ".join(child.cmdline()):
                found.append(child)
        except psutil.Error:
            continue
    return found


def _forward_sigterm() -> None:
    for process in task_processes():
        with contextlib.suppress(Exception):
            process.send_signal(signal.SIGTERM)


def sigterm_stops_tasks() -> contextlib.AbstractContextManager[None]:
    """SIGTERM to `slimnlp run` is passed on to the running task and ends the run like Ctrl-C."""
    return sigterm_as_interrupt(before=_forward_sigterm)


def wait_for_tasks(timeout_s: float = 30.0) -> None:
    """Let interrupted tasks close their MLflow runs (FAILED); kill what is still there after that."""
    import psutil

    # They already have the signal (Ctrl-C reaches the whole process group; sigterm_stops_tasks
    # passes SIGTERM on): a second one could cut short their clean-up.
    deadline = time.monotonic() + timeout_s
    alive = task_processes()
    while alive and time.monotonic() < deadline:
        time.sleep(0.2)
        alive = [p for p in alive if _running(p)]
    for process in alive:
        with contextlib.suppress(psutil.Error):
            process.kill()


def _running(process: Any) -> bool:
    """Still working: a zombie (ended, its `sh` parent gone, not reaped yet) is not."""
    import psutil

    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
