"""A real PostgreSQL for the registry tests: a fresh cluster and database per test session, and an
`mlflow server` on it (the backend the chart's MLflow runs on; SQLite stays the embedded default).

Needs Debian's `postgresql` package (`initdb`, `pg_ctl` on PATH or under /usr/lib/postgresql/*/bin)
and psycopg2 (the dev extra). Skips, saying why, when either is absent; fails instead under CI=1,
where .ci/run installs both.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class Postgres:
    uri: str  # postgresql+psycopg2://user@127.0.0.1:port/mlflow (trust auth, loopback only)


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _missing() -> str | None:
    if _binary("initdb") is None or _binary("pg_ctl") is None:
        return "PostgreSQL is not installed (Debian: apt-get install -y postgresql); .ci/run installs it"
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        return "psycopg2 is not installed (pip install -e '.[dev]' has psycopg2-binary)"
    return None


def _as_owner(command: list[str], owner: str | None) -> list[str]:
    # PostgreSQL refuses to run as root: run its tools as the `postgres` user the package creates.
    return ["runuser", "-u", owner, "--", *command] if owner else command


@contextlib.contextmanager
def running_postgres(root: Path, port: int):
    """initdb + pg_ctl start on 127.0.0.1:`port` under `root`, one database `mlflow`; stopped on exit."""
    reason = _missing()
    if reason:
        if os.environ.get("CI") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    owner = "postgres" if os.geteuid() == 0 else None
    if owner:  # pytest's own folders are private to root: the cluster lives where `postgres` can reach
        root = Path(tempfile.mkdtemp(prefix="slimnlp-pg-"))
        shutil.chown(root, owner)
    data = root / "pgdata"
    root.mkdir(parents=True, exist_ok=True)
    user = owner or os.environ.get("USER", "postgres")
    subprocess.run(
        _as_owner([_binary("initdb"), "-D", str(data), "-U", user, "--auth=trust", "-E", "UTF8"], owner),
        check=True,
        capture_output=True,
    )
    options = f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={root} -c fsync=off"
    log = root / "postgres.log"
    start = [_binary("pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60", "start"]
    subprocess.run(_as_owner(start, owner), check=True, capture_output=True)
    try:
        import psycopg2

        connection = psycopg2.connect(host="127.0.0.1", port=port, user=user, dbname="postgres")
        connection.autocommit = True
        connection.cursor().execute("CREATE DATABASE mlflow")
        connection.close()
        yield Postgres(f"postgresql+psycopg2://{user}@127.0.0.1:{port}/mlflow")
    finally:
        subprocess.run(
            _as_owner([_binary("pg_ctl"), "-D", str(data), "-m", "fast", "stop"], owner), capture_output=True
        )
