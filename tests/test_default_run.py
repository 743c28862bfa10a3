"""The README's first command (`make run`): the embedded default config end to end through kfp.local.
Slow (a few minutes): `make test-slow`."""

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
    assert rows["student-pytorch"]["params_total"] < rows["teacher-pytorch"]["params_total"]
    assert re.search(r"^student-onnx\s+onnx\s+0\.\d{4}", out, re.MULTILINE)
    assert "mlflow ui --backend-store-uri sqlite:///" in out
