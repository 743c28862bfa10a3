"""`slimnlp serve`: the champion (or a run's student) behind an HTTP API on 127.0.0.1.

    slimnlp serve --model models:/slimnlp-marathi-sample@champion --port 5001
    slimnlp serve --model runs/marathi-sample                  # a run dir: its student, int8
    slimnlp serve --model runs/marathi-sample --role teacher --variant fp32

For `models:/` URIs the registry is --tracking-uri, else MLFLOW_TRACKING_URI, else the run config's
(tracking.tracking_uri or the run's SQLite store). Stops on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable


def add_verbs(verbs: argparse._SubParsersAction, common: Callable[[argparse.ArgumentParser], None]) -> dict:
    """Add `serve` to `verbs`; return {verb: command(args) -> exit code}."""
    serve = verbs.add_parser(
        "serve",
        help="serve a registered model or a run's student over HTTP (MLflow scoring protocol)",
        description="Start an HTTP server with POST /invocations (MLflow's scoring protocol), GET /health "
        "(/ping) and GET /ready.",
    )
    common(serve)
    serve.add_argument(
        "--model",
        required=True,
        metavar="URI_OR_DIR",
        help="models:/<name>@champion, a run dir or an export dir",
    )
    serve.add_argument("--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=5001, help="port (default: 5001)")
    serve.add_argument(
        "--role", choices=["student", "teacher"], default="student", help="which model of a run dir"
    )
    serve.add_argument(
        "--variant", choices=["int8", "fp32"], help="ONNX file of a run or export dir (default: int8)"
    )
    serve.add_argument(
        "--max-wait-ms",
        type=float,
        default=0.0,
        help="dynamic batching: gather concurrent requests for up to this long (default 0: off)",
    )
    serve.add_argument(
        "--tracking-uri", help="MLflow tracking URI for models:/ (default: MLFLOW_TRACKING_URI)"
    )
    return {"serve": cmd_serve}


def cmd_serve(args: argparse.Namespace) -> int:
    from slimnlp.serving.model import load_served
    from slimnlp.serving.server import serve

    if args.model.startswith(("models:/", "runs:/")):
        _use_registry(args)
    server = serve(
        lambda: load_served(args.model, args.role, args.variant), args.host, args.port, args.max_wait_ms
    )
    url = f"http://{args.host}:{server.server_address[1]}"
    print(f"loading {args.model} ...", flush=True)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        server.wait_ready()
        info = server.model.info
        print(
            f"serving {info['source']} ({info['variant']}: {info['onnx_file']}, {', '.join(info['providers'])}) "
            f"on {url}\n  POST {url}/invocations   GET {url}/health   GET {url}/ready   (Ctrl-C stops)",
            flush=True,
        )
        signal.pause() if hasattr(signal, "pause") else server.serve_forever()
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
    except (RuntimeError, TimeoutError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    finally:
        server.shutdown()
    return 0


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt  # SIGTERM (kubectl, a supervisor) stops as Ctrl-C does


def _use_registry(args: argparse.Namespace) -> None:
    import mlflow

    uri = args.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
    if not uri:
        from slimnlp.config import load_config
        from slimnlp.mlops.tracking import tracking_uri

        uri = tracking_uri(load_config(args.config, args.overrides))
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
