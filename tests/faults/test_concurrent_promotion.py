"""Fault: two runs promote to the same registered model at once, against a real MLflow server
(SQLite backend, SeaweedFS artifacts).

Both processes are started while a third party holds the promotion lock, so both are past
packaging and scoring and wait on the lock together; the lock is then released and they race. Without
the lock both would read "no champion", both would pass the gate and both would record "promoted"
while only one can hold the alias. With it: exactly one champion, aliases consistent, both
decisions recorded (version tags and each promote run's decision.json).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid

import mlflow
import pytest

from slimnlp.promote.registry import LOCK_SUFFIX
from tests.promote.test_registry import results_dir, run_outputs  # noqa: F401 - run_outputs is a fixture


def _promote_process(url: str, name: str, inputs: dict, results, out) -> subprocess.Popen:
    settings = [f"tracking.tracking_uri={url}", f"registry.model_name={name}", "tracking.codecarbon=false"]
    command = [sys.executable, "-m", "slimnlp", "promote", *[a for s in settings for a in ("--set", s)]]
    command += [
        "--data",
        str(inputs["data"]),
        "--teacher",
        str(inputs["teacher"]),
        "--onnx",
        str(inputs["onnx"]),
    ]
    command += ["--results", str(results), "--out", str(out)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    log = open(out.parent / f"{out.name}.log", "w")  # noqa: SIM115 - closed when the process is read
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, text=True)


def _log(out) -> str:
    return (out.parent / f"{out.name}.log").read_text()


def _wait_for_the_lock(processes: list, outs: list, timeout_s: float) -> None:
    """Until every process printed that it waits on the lock; fail at once, with the logs, when one ends
    before that or the time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if all("promote: waiting for the test" in _log(o) for o in outs):
            return
        ended = [(o.name, p.returncode) for p, o in zip(processes, outs, strict=True) if p.poll() is not None]
        if ended:
            raise AssertionError(f"ended before reaching the lock: {ended}\n" + _logs(outs))
        time.sleep(0.5)
    raise AssertionError(f"not both at the lock after {timeout_s:.0f} s\n" + _logs(outs))


def _logs(outs) -> str:
    return "\n".join(f"--- {o.name}.log (end)\n{_log(o)[-3000:]}" for o in outs)


@pytest.mark.slow  # two promote processes per backend (~1 min each on 2 cores): make test-slow
@pytest.mark.timeout(600)
def test_two_runs_promoting_at_once_leave_one_champion(registry_server, run_outputs, tmp_path):  # noqa: F811
    url, name = registry_server.url, f"race-{uuid.uuid4().hex[:6]}"
    client = mlflow.MlflowClient(url, registry_uri=url)
    root = run_outputs["root"]
    client.create_registered_model(name + LOCK_SUFFIX, tags={"holder": "the test"})  # hold the gate shut
    outs = [tmp_path / "promote-a", tmp_path / "promote-b"]
    # Equal numbers: whichever registers second meets the first as champion, at 1.000x (< min_ratio).
    processes = [
        _promote_process(url, name, run_outputs, results_dir(root, latency=1.0), out) for out in outs
    ]
    try:
        _wait_for_the_lock(processes, outs, 300)
        client.delete_registered_model(name + LOCK_SUFFIX)
        codes = [p.wait(timeout=300) for p in processes]
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
    assert codes == [0, 0], _logs(outs)

    decisions = [json.loads((out / "decision.json").read_text()) for out in outs]
    versions = sorted(client.search_model_versions(f"name = '{name}'"), key=lambda v: int(v.version))
    assert [v.version for v in versions] == ["1", "2"]
    recorded = {v.version: v.tags["slimnlp.decision"] for v in versions}
    assert recorded == {"1": "promoted", "2": "refused"}  # both decisions recorded, exactly one promoted
    aliases = {k: str(v) for k, v in client.get_registered_model(name).aliases.items()}
    assert aliases == {"champion": "1", "challenger": "2"}  # no `previous`: the champion never moved
    assert sorted(d["promoted"] for d in decisions) == [False, True]
    refused = next(d for d in decisions if not d["promoted"])
    assert refused["champion_before"]["version"] == "1"  # decided against the champion the other left
    assert any(
        r.startswith("FAIL faster than champion: 1 ms vs the champion's 1 ms: 1.000x")
        for r in refused["reasons"]
    )
    promoted = next(d for d in decisions if d["promoted"])
    assert promoted["champion_before"] is None and promoted["version"] == "1"
    # each promote run logged its own decision.json to MLflow
    for decision in decisions:
        run_id = client.get_model_version(name, decision["version"]).run_id
        logged = json.loads(_artifact(client, run_id))
        assert logged["version"] == decision["version"] and logged["promoted"] == decision["promoted"]
    assert name + LOCK_SUFFIX not in [m.name for m in client.search_registered_models()]  # released


def _artifact(client, run_id: str) -> str:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        return Path(client.download_artifacts(run_id, "decision.json", tmp)).read_text()
