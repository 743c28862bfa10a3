"""Secrets: with fake AWS keys and a KFP token in the environment, a whole `slimnlp run` (every step,
through kfp.local, logging to a real MLflow server and registering in its registry) writes them
nowhere: not in a logged param or tag, an artifact, a log line, the console, or a file of the run.

The test greps every byte the run wrote: the run directory (logs, step outputs, KFP executor files),
the MLflow server's folder (its SQLite store, where params and tags live, its artifacts and its
log), what the run printed, and the params and tags read back through the MLflow API. The same grep
must find the run's name and the seed it logged, so a grep that reads nothing cannot pass.
Slow (a whole pipeline of tiny models): `make test-slow`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest

from tests.helpers_models import TINY_PIPELINE_SETTINGS

pytestmark = pytest.mark.slow

SECRETS = {
    "AWS_ACCESS_KEY_ID": "AKIAFAKESLIMNLP7Q2X",
    "AWS_SECRET_ACCESS_KEY": "fakeSecretKey/slimnlp+Zx81LmQpR0tNvWy3Hk",
    "AWS_SESSION_TOKEN": "FakeSessionTokenSlimnlpQwErTy1234567890",
    "SLIMNLP_KFP_TOKEN": "fake-kfp-bearer-eyJhbGciOiJSUzI1NiJ9.slimnlp.sig",
}


def _files_containing(root: Path, needle: str) -> list[str]:
    needle_bytes = needle.encode()
    found = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            try:
                if needle_bytes in path.read_bytes():
                    found.append(str(path))
            except OSError:
                continue
    return found


@pytest.fixture(scope="module")
def secret_run(mlflow_server, tmp_path_factory):
    root = tmp_path_factory.mktemp("secrets")
    name = "secret-run"
    settings = [
        f"output_dir={root}",
        f"name={name}",
        f"tracking.tracking_uri={mlflow_server.url}",
        "tracking.experiment=secrets",
        f"registry.model_name=secrets-{root.name}",
        "tracking.codecarbon=false",
        "benchmark.peak_memory='off'",
        "prune.target_sparsity=0.25",
        *TINY_PIPELINE_SETTINGS,
    ]
    env = {**os.environ, **SECRETS, "PYTHONUNBUFFERED": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    command = [
        sys.executable,
        "-m",
        "slimnlp",
        "run",
        "--verbose",
        *[a for s in settings for a in ("--set", s)],
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=3000)
    (root / "console.txt").write_text(done.stdout + "\n" + done.stderr)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    return {"root": root, "name": name, "server": mlflow_server, "console": done.stdout + done.stderr}


def _api_text(server_url: str) -> str:
    """Every param, tag and metric key of every run of the experiment, and every registry tag."""
    client = mlflow.MlflowClient(server_url, registry_uri=server_url)
    experiment = client.get_experiment_by_name("secrets")
    parts = []
    for run in client.search_runs([experiment.experiment_id], max_results=1000):
        parts += [f"{k}={v}" for k, v in {**run.data.params, **run.data.tags}.items()]
    for version in client.search_model_versions():
        parts += [f"{k}={v}" for k, v in (version.tags or {}).items()]
    return "\n".join(parts)


def test_no_secret_in_anything_the_run_wrote(secret_run):
    root, server = secret_run["root"], secret_run["server"]
    api = _api_text(server.url)
    places = {"run directory": root, "MLflow server folder": Path(server.root)}
    # the grep reaches what the run wrote: its name and its seed are there
    for where, folder in places.items():
        assert _files_containing(folder, secret_run["name"]), where
    assert "seed=13" in api and secret_run["name"] in secret_run["console"] + api
    leaks = {}
    for key, secret in SECRETS.items():
        for where, folder in places.items():
            if hits := _files_containing(folder, secret):
                leaks[f"{key} in {where}"] = hits[:5]
        if secret in secret_run["console"]:
            leaks[f"{key} on the console"] = ["stdout/stderr"]
        if secret in api:
            leaks[f"{key} in a logged param or tag"] = [line for line in api.splitlines() if secret in line][
                :5
            ]
    assert leaks == {}
