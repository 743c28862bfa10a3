"""The README's quick start: `make run` (the default config end to end through kfp.local) ends with
a champion, then `slimnlp serve --model models:/slimnlp-marathi-sample@champion` and a `curl` return
labels. Slow (a few minutes): `make test-slow`."""

import json
import re

import pytest

from slimnlp_pipelines.cli import main

pytestmark = pytest.mark.slow


def test_default_run_learns_and_prints_the_summary(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("SLIMNLP_DATA_DIR", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert main(["run", "--config", "configs/default.yaml", "--set", f"output_dir={tmp_path}"]) == 0
    out = capsys.readouterr().out
    results = json.loads((tmp_path / "marathi-sample" / "report" / "results.json").read_text())
    rows = {r["name"]: r for r in results["rows"]}
    chance = 1 / 8
    assert rows["teacher-pytorch"]["accuracy"] > 3 * chance
    assert rows["student-onnx"]["accuracy"] > 3 * chance
    # The quick start ends with a champion: the int8 student passed the gate on its own merit.
    assert "Promotion: slimnlp-marathi-sample version 1 is challenger; PROMOTED to champion" in out
    report = (tmp_path / "marathi-sample" / "report" / "results.md").read_text()
    assert report.startswith("# Benchmark\n\n## Decision\n\n**slimnlp-marathi-sample version 1: PROMOTED")
    assert rows["student-pytorch"]["params_total"] < rows["teacher-pytorch"]["params_total"]
    assert re.search(r"^student-onnx\s+onnx\s+0\.\d{4}", out, re.MULTILINE)
    assert "mlflow ui --backend-store-uri sqlite:///" in out

    # The README's next commands: serve the champion from the run's registry, then curl it.
    serve_the_champion(tmp_path, results["id2label"].values())


def serve_the_champion(tmp_path, labels) -> None:
    import os
    import subprocess
    import sys

    from tests.conftest import _free_ports, _stop, _wait_for_http

    (port,) = _free_ports(1)
    command = [sys.executable, "-m", "slimnlp", "serve", "--model", "models:/slimnlp-marathi-sample@champion"]
    command += ["--config", "configs/default.yaml", "--set", f"output_dir={tmp_path}", "--port", str(port)]
    log = tmp_path / "serve.log"
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        _wait_for_http(f"http://127.0.0.1:{port}/ready", process, log, timeout_s=180)
        body = json.dumps({"dataframe_split": {"columns": ["text"], "data": [["शेअर बाजार आज घसरला"]]}})
        curl = subprocess.run(
            [
                "curl",
                "-s",
                f"http://127.0.0.1:{port}/invocations",
                "-H",
                "Content-Type: application/json",
                "-d",
                body,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        _stop(process)
    (prediction,) = json.loads(curl.stdout)["predictions"]
    assert prediction["label"] in set(labels)
