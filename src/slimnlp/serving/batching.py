"""Dynamic batching: requests that arrive together share one ONNX Runtime call.

    batcher = DynamicBatcher(model.predict, max_rows=32, max_wait_ms=2)
    frame_out = batcher.predict(frame_in)        # from any number of request threads at once

One worker thread takes the first waiting request, then keeps taking requests for at most
`max_wait_ms` (or until `max_rows` texts), runs the model once on all of them and hands each request
its own rows back. It pays when requests overlap (many clients, a model whose per-call overhead is
large against its per-text cost); `benchmarks/serve_load.py` measures it against one call per request.
"""

from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import Future
from typing import Any


class DynamicBatcher:
    def __init__(self, predict: Any, max_rows: int = 32, max_wait_ms: float = 2.0) -> None:
        self._predict = predict
        self.max_rows = max_rows
        self.max_wait_s = max_wait_ms / 1000
        self._queue: queue.Queue[tuple[Any, Future]] = queue.Queue()
        self._worker = threading.Thread(target=self._run, name="slimnlp-batcher", daemon=True)
        self._worker.start()

    def predict(self, frame: Any) -> Any:
        """The model's output rows for `frame`, computed in a batch with whatever else is waiting."""
        future: Future = Future()
        self._queue.put((frame, future))
        return future.result()

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            rows = len(batch[0][0])
            deadline = time.monotonic() + self.max_wait_s
            while rows < self.max_rows:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    batch.append(self._queue.get(timeout=left))
                except queue.Empty:
                    break
                rows += len(batch[-1][0])
            self._answer(batch)

    def _answer(self, batch: list[tuple[Any, Future]]) -> None:
        import pandas as pd

        try:
            frames = [frame for frame, _ in batch]
            out = self._predict(pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0])
        except Exception as err:  # noqa: BLE001 - each waiting request gets the model's error
            if len(batch) > 1:  # one bad request must not fail the others: answer each alone
                for one in batch:
                    self._answer([one])
                return
            batch[0][1].set_exception(err)
            return
        start = 0
        for frame, future in batch:
            future.set_result(out.iloc[start : start + len(frame)].reset_index(drop=True))
            start += len(frame)
