"""What `slimnlp run` prints while kfp.local runs: one row per step, every line in a log file.

    with StepLogs(run_dir / "logs", table=LiveTable(sys.stdout)) as logs:
        with contextlib.redirect_stdout(logs):
            pipeline(...)          # kfp.local prints each task's streamed output to sys.stdout

kfp.local prints "Executing task 'x'", then the task subprocess's output (KFP executor JSON, the
step's own prints and warnings), then "Task 'x' finished with status SUCCESS". `StepLogs` sends
each line to `<run dir>/logs/<step>.log` (lines outside a task to `pipeline.log`) and tells the
table when a step starts and ends; with `--verbose` it also echoes every line, as before.
Lines are attributed per thread, so the grid's parallel branches keep separate logs.
"""

from __future__ import annotations

import io
import re
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
STARTED = re.compile(r"Executing task '([^']+)'")
FINISHED = re.compile(r"Task '([^']+)' finished with status (\w+)")
REUSED_RECORD = re.compile(r"^\s*slimnlp: reused .* \(record (.+\.json)\)\s*$")  # slimnlp.mlops.resume
# The last line of a Python traceback: the step's own error.
ERROR_LINE = re.compile(r"^\s*([A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit|Failed|Warning)\w*)(:.*)?$")


class StepLogs(io.TextIOBase):
    """A stdout stand-in that files kfp.local's output by step and reports each step's start/end."""

    def __init__(
        self,
        log_dir: Path,
        echo: TextIO | None = None,
        on_start: Callable[[str], None] | None = None,
        on_end: Callable[[str, str], None] | None = None,
    ) -> None:
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.echo = echo
        self.on_start = on_start or (lambda step: None)
        self.on_end = on_end or (lambda step, status: None)
        self.paths: dict[str, Path] = {}  # step (task) name -> its log file
        self.reused: dict[str, Path] = {}  # step -> the resume record it reused
        self.failed: list[str] = []  # steps whose task ended with a status other than SUCCESS
        self._lock = threading.RLock()
        self._pending: dict[int, str] = {}  # thread -> text after its last newline
        self._current: dict[int, str] = {}  # thread -> the task it is running
        self._files: dict[str, Any] = {}
        self._pipeline = open(self.log_dir / "pipeline.log", "w", encoding="utf-8")  # noqa: SIM115

    # -- the file interface kfp.local's print() and logging handler use
    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        thread = threading.get_ident()
        with self._lock:
            if self.echo is not None:
                self.echo.write(text)
            lines = (self._pending.pop(thread, "") + text).split("\n")
            self._pending[thread] = lines.pop()
            for line in lines:
                self._line(thread, line)
        return len(text)

    def flush(self) -> None:
        with self._lock:
            if self.echo is not None:
                self.echo.flush()
            for file in (*self._files.values(), self._pipeline):
                if not file.closed:
                    file.flush()

    def close(self) -> None:
        with self._lock:
            for thread, rest in list(self._pending.items()):
                if rest:
                    self._line(thread, rest)
            self._pending.clear()
            for file in (*self._files.values(), self._pipeline):
                file.close()
            self._files.clear()
        super().close()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- routing
    def current(self) -> str | None:
        """The step the calling thread (or, failing that, any thread) is running."""
        with self._lock:
            return self._current.get(threading.get_ident()) or next(iter(self._current.values()), None)

    def stopped_step(self) -> str | None:
        """The step a failed or interrupted run stopped in: still running, or the last that failed."""
        return self.current() or (self.failed[-1] if self.failed else None)

    def _line(self, thread: int, line: str) -> None:
        if self._pipeline.closed:  # a late line from a thread still winding down
            return
        plain = ANSI.sub("", line)
        started = STARTED.search(plain)
        if started:
            self._open(thread, started.group(1))
        step = self._current.get(thread)
        file = self._files.get(step) if step else self._pipeline
        file.write(plain + "\n")
        reused = REUSED_RECORD.match(plain) if step else None
        if reused:
            self.reused[step] = Path(reused.group(1))
        finished = FINISHED.search(plain)
        if finished and step == finished.group(1):
            file.flush()
            del self._current[thread]
            if finished.group(2) != "SUCCESS":
                self.failed.append(step)
            self.on_end(step, finished.group(2))

    def _open(self, thread: int, task: str) -> None:
        name, n = task, 2
        while name in self.paths:  # the grid runs prune, finetune-amp, ... once per branch
            name, n = f"{task}-{n}", n + 1
        path = self.log_dir / f"{name}.log"
        self.paths[name] = path
        self._files[name] = open(path, "w", encoding="utf-8")  # noqa: SIM115
        self._current[thread] = name
        self.on_start(name)

    def log_path(self, step: str) -> Path | None:
        return self.paths.get(step)


def step_error(log_file: Path | None) -> str | None:
    """The step's own error: the last exception line of its log (`ValueError: ...`)."""
    if log_file is None or not log_file.is_file():
        return None
    lines = log_file.read_text(encoding="utf-8", errors="replace").splitlines()
    for line in reversed(lines):
        match = ERROR_LINE.match(line)
        if match and "Warning" not in match.group(1):
            return line.strip()
    return None


def log_tail(log_file: Path | None, count: int = 12) -> list[str]:
    if log_file is None or not log_file.is_file():
        return []
    lines = log_file.read_text(encoding="utf-8", errors="replace").splitlines()
    return [line for line in lines if line.strip()][-count:]


# --------------------------------------------------------------------------------------------------
# The table


# (metric, label, format) in the order a row shows them; a row shows the first four it has.
HEADLINE: tuple[tuple[str, str, str], ...] = (
    ("train_rows", "train", "{:.0f}"),
    ("dev_rows", "dev", "{:.0f}"),
    ("test_rows", "test", "{:.0f}"),
    ("num_labels", "labels", "{:.0f}"),
    ("test_accuracy", "acc", "{:.3f}"),
    ("test_macro_f1", "macro-F1", "{:.3f}"),
    ("heldout_perplexity", "perplexity", "{:.1f}"),
    ("heads_removed", "heads removed", "{:.0f}"),
    ("neurons_removed", "neurons removed", "{:.0f}"),
    ("max_abs_diff", "max |diff|", "{:.1e}"),
    ("int8_accuracy", "int8 acc", "{:.3f}"),
    ("promoted", "promoted", "{:.0f}"),
    ("registered_version", "version", "{:.0f}"),
    ("params_total", "params", "{:,.0f}"),
)


def headline(metrics: dict[str, Any]) -> str:
    """A step's few figures for its row: `acc 0.712 · macro-F1 0.690 · params 1,234,567`."""
    parts = []
    for key, label, fmt in HEADLINE:
        value = metrics.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            parts.append(f"{label} {fmt.format(value)}")
    speedups = {k: v for k, v in metrics.items() if k.endswith(".speedup_vs_teacher_b32")}
    if speedups:
        best = max(speedups, key=lambda k: speedups[k])
        parts.append(f"best speed-up x{speedups[best]:.2f} ({best.rsplit('.', 1)[0]}, b32)")
    peak = metrics.get("peak_rss_gib")  # every step's own peak memory, after its figures
    if isinstance(peak, int | float):
        parts = [*parts[:4], f"peak {peak:.1f} GiB"]
    return " · ".join(parts[:5])


class LiveTable:
    """One row per step: `  train-teacher   done     95.2 s   acc 0.712 · macro-F1 0.690`.

    On a terminal the running step's row ticks its wall time in place; elsewhere (a log file, CI)
    a row is printed once, when the step ends.
    """

    def __init__(self, out: TextIO | None = None, live: bool | None = None) -> None:
        self.out = out or sys.stdout
        self.live = self.out.isatty() if live is None else live
        self.started: dict[str, float] = {}
        self.rows: dict[str, dict[str, Any]] = {}
        self._ticker: threading.Thread | None = None
        self._running: str | None = None
        self._lock = threading.Lock()

    def header(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.write(f"  {'step':<20}{'status':<9}{'wall':>9}   figures\n")
        self.out.flush()

    def start(self, step: str) -> None:
        with self._lock:
            self.started[step] = time.perf_counter()
            self._running = step
        if self.live and self._ticker is None:
            self._ticker = threading.Thread(target=self._tick, daemon=True)
            self._ticker.start()

    def end(self, step: str, status: str, figures: str = "", wall_s: float | None = None) -> None:
        with self._lock:
            started = self.started.get(step, time.perf_counter())
            wall = wall_s if wall_s is not None else time.perf_counter() - started
            self.rows[step] = {"status": status, "wall_s": wall, "figures": figures}
            if self._running == step:
                self._running = None
            prefix = "\r\x1b[K" if self.live else ""
            self.out.write(f"{prefix}  {step:<20}{status:<9}{wall:8.1f} s   {figures}".rstrip() + "\n")
            self.out.flush()

    def stop(self) -> None:
        with self._lock:
            self._running = None
            if self.live:
                self.out.write("\r\x1b[K")
                self.out.flush()

    def _tick(self) -> None:
        while True:
            time.sleep(1.0)
            with self._lock:
                step = self._running
                if step is not None:
                    wall = time.perf_counter() - self.started[step]
                    self.out.write(f"\r\x1b[K  {step:<20}{'running':<9}{wall:8.1f} s")
                    self.out.flush()
