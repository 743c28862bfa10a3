"""SIGTERM (`kill`, a pod evicted, `slimnlp run` stopped) arrives as KeyboardInterrupt: the one
mechanism behind a training loop's last checkpoint, a step run marked FAILED, and `slimnlp run`
passing the signal on to its tasks."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any


@contextlib.contextmanager
def sigterm_as_interrupt(before: Callable[[], None] | None = None) -> Iterator[None]:
    """Within the block, SIGTERM runs `before` (e.g. forward the signal to child tasks) and raises
    KeyboardInterrupt; a second SIGTERM is ignored so the clean-up runs to its end. Off the main
    thread (where signal handlers cannot be set) the block runs unchanged."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if before is not None:
            before()
        raise KeyboardInterrupt("SIGTERM")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
