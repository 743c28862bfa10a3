"""Stop a long training loop cleanly: SIGTERM (a pod being evicted) arrives as KeyboardInterrupt."""

from __future__ import annotations

import signal
import threading
from typing import Any


class sigterm_as_interrupt:  # noqa: N801 - used as a context manager
    """Turn SIGTERM (a pod being evicted) into KeyboardInterrupt, so the loop saves a checkpoint."""

    def __enter__(self) -> None:
        self.previous = None
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGTERM, self._raise)

    @staticmethod
    def _raise(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    def __exit__(self, *exc: object) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGTERM, self.previous)
