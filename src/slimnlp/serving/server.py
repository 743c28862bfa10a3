"""The HTTP server of `slimnlp serve`: MLflow's scoring protocol on 127.0.0.1.

    slimnlp serve --model runs/marathi-sample --port 5001
    curl -s 127.0.0.1:5001/invocations -H 'Content-Type: application/json' \\
        -d '{"dataframe_split": {"columns": ["text"], "data": [["शेअर बाजार आज घसरला"]]}}'

POST /invocations takes what `mlflow models serve` takes (JSON `dataframe_split`,
`dataframe_records`, `inputs` or `instances`; or CSV) and answers `{"predictions": [...]}`, one
record per text with `label`, `score` and `prob_<label>`. GET /health (and /ping) answer 200 while
the process is up (liveness); GET /ready answers 200 with what is served (source, variant, ONNX
Runtime providers) once the model is loaded and has answered a warm-up request, 503 before
(readiness: a Kubernetes probe sends no traffic to a pod still loading).

The standard library's threading server: one thread per connection, and ONNX Runtime's `run` is
safe to call from many threads. With `max_wait_ms > 0` concurrent requests share one model call
(`slimnlp.serving.batching`); off by default, see benchmarks/RESULTS.md "Serving" for why.
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from slimnlp.serving.model import ServedModel

MAX_BODY_BYTES = 16 * 1024 * 1024


class ModelServer(ThreadingHTTPServer):
    """Holds the model (loaded in the background, so /health answers at once) and the batcher."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], load: Callable[[], ServedModel], max_wait_ms: float = 0.0):
        super().__init__(address, _Handler)
        self.model: ServedModel | None = None
        self.load_error: str | None = None
        self.batcher: Any = None
        self._max_wait_ms = max_wait_ms
        threading.Thread(target=self._load, args=(load,), name="slimnlp-load", daemon=True).start()

    def _load(self, load: Callable[[], ServedModel]) -> None:
        try:
            model = load()
            model.predict(_frame(["warm-up"]))  # the first call allocates; keep it out of traffic
        except Exception as err:  # noqa: BLE001 - reported on /ready and by the CLI
            self.load_error = f"{type(err).__name__}: {err}"
            return
        if self._max_wait_ms > 0:
            from slimnlp.serving.batching import DynamicBatcher

            self.batcher = DynamicBatcher(model.predict, max_wait_ms=self._max_wait_ms)
        self.model = model

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # a client that hung up (a probe's timeout, a load test stopping) is not an error
        super().handle_error(request, client_address)

    def predict(self, frame: Any) -> Any:
        return self.batcher.predict(frame) if self.batcher is not None else self.model.predict(frame)

    def wait_ready(self, timeout_s: float = 300) -> None:
        """Block until the model is loaded; raise with the loader's error if it failed."""
        deadline = time.monotonic() + timeout_s
        while self.model is None and self.load_error is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.load_error is not None:
            raise RuntimeError(f"the model could not be loaded: {self.load_error}")
        if self.model is None:
            raise TimeoutError(f"the model was not loaded within {timeout_s:.0f} s")


def _frame(texts: list[str]) -> Any:
    import pandas as pd

    return pd.DataFrame({"text": texts})


class _Handler(BaseHTTPRequestHandler):
    server: ModelServer
    protocol_version = "HTTP/1.1"  # keep-alive: a load test's clients reuse their connections

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass  # one line per request would drown the console under load

    def do_GET(self) -> None:  # noqa: N802 - the base class's name
        path = self.path.split("?", 1)[0]
        if path in ("/health", "/ping"):
            self._send(200, {"status": "ok"})
        elif path == "/ready":
            if self.server.model is not None:
                self._send(200, {"status": "ready", **self.server.model.info})
            elif self.server.load_error is not None:
                self._send(503, {"status": "failed", "error": self.server.load_error})
            else:
                self._send(503, {"status": "loading"})
        else:
            self._send(404, _error("ENDPOINT_NOT_FOUND", f"no {path}; try /invocations, /health or /ready"))

    def do_POST(self) -> None:  # noqa: N802 - the base class's name
        if self.path.split("?", 1)[0] != "/invocations":
            self._send(404, _error("ENDPOINT_NOT_FOUND", f"POST to /invocations, not {self.path}"))
            return
        if self.server.model is None:
            self._send(503, _error("NOT_READY", "the model is still loading; GET /ready says when"))
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self._send(
                413, _error("BAD_REQUEST", f"the body is {length:,} bytes; at most {MAX_BODY_BYTES:,}")
            )
            return
        body = self.rfile.read(length)
        try:
            frame = parse_request(
                body, self.headers.get("Content-Type", "application/json"), self.server.model
            )
        except ValueError as err:
            self._send(400, _error("BAD_REQUEST", str(err)))
            return
        try:
            out = self.server.predict(frame)
        except Exception as err:  # noqa: BLE001 - the schema check and the model raise their own
            self._send(400, _error("BAD_REQUEST", f"{type(err).__name__}: {err}"))
            return
        self._send(200, {"predictions": out.to_dict(orient="records")})

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _error(code: str, message: str) -> dict[str, str]:
    return {"error_code": code, "message": message}


def parse_request(body: bytes, content_type: str, model: ServedModel) -> Any:
    """A DataFrame from an MLflow scoring request (JSON formats or CSV); ValueError if it is none."""
    from mlflow.exceptions import MlflowException
    from mlflow.pyfunc import scoring_server

    mime = content_type.split(";", 1)[0].strip().lower()
    try:
        if mime == "text/csv":
            return scoring_server.parse_csv_input(
                io.StringIO(body.decode("utf-8")), schema=model.input_schema
            )
        if mime != "application/json":
            raise ValueError(f"Content-Type {mime!r} is not served; send application/json or text/csv")
        data, _params = scoring_server._split_data_and_params(body.decode("utf-8"))
        frame = scoring_server.infer_and_parse_data(data, model.input_schema)
    except (MlflowException, UnicodeDecodeError) as err:
        raise ValueError(getattr(err, "message", str(err))) from None
    import pandas as pd

    # `inputs`/`instances` give a dict of columns, or a list or an array of texts.
    if isinstance(frame, pd.DataFrame):
        return frame
    return pd.DataFrame(frame) if isinstance(frame, dict) else _frame(list(frame))


def serve(
    load: Callable[[], ServedModel], host: str = "127.0.0.1", port: int = 5001, max_wait_ms: float = 0.0
) -> ModelServer:
    """A started server (serving in a background thread); `server.shutdown()` stops it."""
    server = ModelServer((host, port), load, max_wait_ms)
    threading.Thread(target=server.serve_forever, name="slimnlp-http", daemon=True).start()
    return server
