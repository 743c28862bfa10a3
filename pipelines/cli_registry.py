"""`slimnlp registry list | promote NAME VERSION | rollback NAME` and `slimnlp mlflow-server`.

    slimnlp registry list                                  # every registered model, newest first
    slimnlp registry promote slimnlp-marathi-sample 3      # a person's override: no gate
    slimnlp registry rollback slimnlp-marathi-sample       # champion <-> previous
    slimnlp mlflow-server --port 5000                      # a local tracking server (SQLite + ./mlartifacts)

The tracking server comes from --tracking-uri, else MLFLOW_TRACKING_URI, else the run config's
(tracking.tracking_uri or the run's SQLite store). Heavy imports stay inside the commands.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path


def add_verbs(verbs: argparse._SubParsersAction, common: Callable[[argparse.ArgumentParser], None]) -> dict:
    """Add `registry` and `mlflow-server` to `verbs`; return {verb: command(args) -> exit code}."""
    registry = verbs.add_parser(
        "registry",
        help="MLflow model registry: list versions, promote one, roll back",
        description="List, promote and roll back registered slimnlp models (aliases champion, "
        "challenger, previous).",
    )
    actions = registry.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="registered models and versions with their aliases and numbers")
    listing.add_argument("name", nargs="?", help="only this registered model")
    promote = actions.add_parser("promote", help="make VERSION the champion (no gate: a person decides)")
    promote.add_argument("name", help="registered model name")
    promote.add_argument("version", help="version number")
    rollback = actions.add_parser("rollback", help="swap champion and previous")
    rollback.add_argument("name", help="registered model name")
    for sub in (listing, promote, rollback):
        common(sub)
        sub.add_argument(
            "--tracking-uri", help="MLflow tracking URI (default: MLFLOW_TRACKING_URI, then the config)"
        )

    server = verbs.add_parser(
        "mlflow-server",
        help="start a local MLflow tracking server (127.0.0.1, one worker)",
        description="Start `mlflow server` for a person: SQLite backend, artifacts served by the server.",
    )
    server.add_argument("--port", type=int, default=5000, help="port (default: 5000)")
    server.add_argument("--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1)")
    server.add_argument(
        "--root", default="runs/mlflow-server", help="folder of the SQLite store and local artifacts"
    )
    server.add_argument(
        "--artifacts-destination",
        help="where the server keeps artifacts, e.g. s3://bucket/mlflow (endpoint and credentials from "
        "MLFLOW_S3_ENDPOINT_URL / AWS_* in the environment); default: <root>/artifacts",
    )
    server.add_argument("--verbose", "-v", action="store_true", help="show tracebacks on errors")
    return {"registry": cmd_registry, "mlflow-server": cmd_mlflow_server}


def _client(args: argparse.Namespace):
    from slimnlp.promote.registry import connect

    uri = args.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
    if not uri:
        from slimnlp.config import load_config
        from slimnlp.mlops.tracking import tracking_uri

        uri = tracking_uri(load_config(args.config, args.overrides))
    import mlflow

    mlflow.set_tracking_uri(uri)
    return connect(uri)


def cmd_registry(args: argparse.Namespace) -> int:
    from slimnlp.promote import registry

    client = _client(args)
    if args.action == "list":
        rows = registry.list_models(client, args.name)
        print(format_rows(rows) if rows else f"no registered models at {client.tracking_uri}")
        return 0
    if args.action == "promote":
        moved = registry.make_champion(client, args.name, args.version)
        if moved["changed"] is None:
            print(f"{args.name}: version {moved['champion']} is already the champion; nothing moved")
            return 0
        client.set_model_version_tag(args.name, moved["champion"], registry.TAG + "promoted_by", "cli")
        was = f"version {moved['previous']} (now alias 'previous')" if moved["previous"] else "none"
        print(f"{args.name}: champion is now version {moved['champion']}; was {was}")
        return 0
    moved = registry.rollback(client, args.name)
    print(
        f"{args.name}: rolled back; champion is now version {moved['champion']}"
        + (f", previous is version {moved['previous']}" if moved["previous"] else "")
    )
    return 0


def format_rows(rows: list[dict]) -> str:
    """A plain text table, one line per registered version."""
    columns = ["name", "version", "aliases", "accuracy", "latency_ms", "size_bytes", "decision", "created"]
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines)


def _cell(value: object) -> str:
    """Registry tags are strings: show the numbers they hold as numbers (slimnlp's one table cell)."""
    from slimnlp.benchmark.tables import cell

    if value in (None, ""):
        return "-"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return cell(number, ",.0f" if number.is_integer() and abs(number) >= 1000 else ".4g")


def mlflow_server_command(args: argparse.Namespace) -> list[str]:
    root = Path(args.root).resolve()
    destination = args.artifacts_destination or str(root / "artifacts")
    return [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--host",
        args.host,
        "--port",
        str(args.port),
        "--workers",
        "1",
        "--backend-store-uri",
        f"sqlite:///{root / 'mlflow.db'}",
        "--artifacts-destination",
        destination,
    ]


def cmd_mlflow_server(args: argparse.Namespace) -> int:
    Path(args.root).mkdir(parents=True, exist_ok=True)
    command = mlflow_server_command(args)
    # One worker and no job runner: ~0.5 GB and ~6 s to start instead of 2.4 GB and ~25 s.
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    print("mlflow " + " ".join(command[3:]), flush=True)
    print(
        f"tracking URI: http://{args.host}:{args.port}  (export MLFLOW_TRACKING_URI=http://{args.host}:{args.port})",
        flush=True,
    )
    process = subprocess.Popen(command, env=env)
    # A SIGTERM (a script's cleanup, a pod stopping) must reach the server, not orphan it.
    signal.signal(signal.SIGTERM, lambda *_: process.terminate())
    try:
        return process.wait()
    except KeyboardInterrupt:
        process.terminate()
        process.wait()
        return 0
