"""The registered pyfunc (slimnlp.promote.serving): predictions from raw text, loading `models:/NAME@champion`
in a fresh process that cannot import slimnlp, and `mlflow models serve` answering HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from slimnlp.promote import promotion, registry
from tests.conftest import _free_ports, _stop, _wait_for_http
from tests.helpers_models import TINY_ID2LABEL, TINY_TEXTS, tiny_onnx_export

LABELS = [TINY_ID2LABEL[i] for i in range(len(TINY_ID2LABEL))]


@pytest.fixture(scope="module")
def packaged(tmp_path_factory):
    onnx_dir, _ = tiny_onnx_export("student")
    return promotion.package_model(onnx_dir, tmp_path_factory.mktemp("pyfunc") / "model")


def test_predicts_labels_and_probabilities_from_text(packaged):
    from slimnlp.runtime import predict_logits
    from slimnlp.runtime.onnx import OnnxRunner

    model = mlflow.pyfunc.load_model(str(packaged))
    out = model.predict(pd.DataFrame({"text": TINY_TEXTS}))
    assert list(out.columns) == ["label", "score", *[f"prob_{label}" for label in LABELS]]
    probabilities = out[[f"prob_{label}" for label in LABELS]].to_numpy()
    np.testing.assert_allclose(probabilities.sum(1), 1.0, atol=1e-5)
    # The same answers as the ONNX runner the export's parity check and the benchmark use (serving.py
    # keeps its own copy of it: it must load without slimnlp), on the served file (int8 by default).
    onnx_dir, _ = tiny_onnx_export("student")
    runner = OnnxRunner(onnx_dir / "model.int8.onnx", onnx_dir, threads=1)
    expected = predict_logits(runner, TINY_TEXTS).argmax(-1)
    assert out["label"].tolist() == [TINY_ID2LABEL[int(i)] for i in expected]
    assert (out["score"] == probabilities.max(1)).all()
    assert len(model.predict(pd.DataFrame({"text": pd.Series([], dtype=str)}))) == 0


def test_input_without_a_text_column_is_refused_by_its_schema(packaged):
    model = mlflow.pyfunc.load_model(str(packaged))
    with pytest.raises(Exception, match=r"missing inputs \['text'\]"):
        model.predict(pd.DataFrame({"headline": TINY_TEXTS[:2]}))


def test_package_needs_an_onnx_export(tmp_path):
    with pytest.raises(
        registry.RegistryError, match="has no model.int8.onnx, the int8 model registry.serve_"
    ):
        promotion.package_model(tmp_path, tmp_path / "model")
    with pytest.raises(registry.RegistryError, match="has no model.onnx, the fp32 model"):
        promotion.package_model(tmp_path, tmp_path / "model", "fp32")


@pytest.fixture(scope="module")
def champion(registry_server, packaged):
    """The packaged model registered on the S3-backed server as champion of a fresh name."""
    mlflow.set_tracking_uri(registry_server.url)
    client = registry.connect(registry_server.url)
    experiment = client.create_experiment(f"serving-{uuid.uuid4().hex[:6]}")
    run = client.create_run(experiment)
    name = f"serving-{uuid.uuid4().hex[:6]}"
    version = registry.register(client, name, run.info.run_id, packaged, {"slimnlp.test": "1"})
    registry.make_champion(client, name, version)
    return name


def test_the_champion_is_a_logged_model_with_signature_and_input_example(registry_server, champion):
    client = mlflow.MlflowClient(registry_server.url)
    version = client.get_model_version_by_alias(champion, "champion")
    assert version.source.startswith("models:/m-")  # the version points at a LoggedModel
    logged = client.get_logged_model(version.source.removeprefix("models:/"))
    assert str(logged.status).endswith("READY") and logged.source_run_id == version.run_id
    assert logged.name == "model"
    found = mlflow.search_logged_models(experiment_ids=[logged.experiment_id], output_format="list")
    assert [m.model_id for m in found] == [logged.model_id]
    info = mlflow.models.get_model_info(f"models:/{champion}@champion")
    assert info.signature.inputs.input_names() == ["text"]
    assert info.signature.outputs.input_names() == ["label", "score", *[f"prob_{label}" for label in LABELS]]
    assert info.saved_input_example_info is not None
    assert info.metadata["slimnlp_serve_variant"] == "int8"
    assert info.metadata["slimnlp_onnx_file"] == "model.int8.onnx"
    assert "CUDAExecutionProvider when onnxruntime offers it" in info.metadata["onnxruntime_providers"]


def test_fresh_process_without_slimnlp_predicts_with_the_champion(registry_server, champion):
    code = (
        "import sys; sys.modules['slimnlp'] = None\n"  # any `import slimnlp` now fails
        "import json, mlflow, pandas as pd\n"
        f"model = mlflow.pyfunc.load_model('models:/{champion}@champion')\n"
        f"out = model.predict(pd.DataFrame({{'text': {TINY_TEXTS[:4]!r}}}))\n"
        "print(json.dumps(out['label'].tolist()))\n"
    )
    env = {**os.environ, "MLFLOW_TRACKING_URI": registry_server.url}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=180, env=env
    )
    assert result.returncode == 0, result.stderr[-3000:]
    labels = json.loads(result.stdout.strip().splitlines()[-1])
    assert len(labels) == 4 and set(labels) <= set(LABELS)


def test_mlflow_models_serve_answers_http(registry_server, champion, tmp_path):
    (port,) = _free_ports(1)
    # `mlflow models serve` execs `uvicorn` from PATH: the one beside this interpreter.
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    env = {**os.environ, "MLFLOW_TRACKING_URI": registry_server.url, "PATH": path}
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "models",
        "serve",
        "-m",
        f"models:/{champion}@champion",
        "--env-manager",
        "local",
        "--host",
        "127.0.0.1",
        "-p",
        str(port),
        "-w",
        "1",
    ]
    log = tmp_path / "serve.log"
    with open(log, "wb") as log_file:
        process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, env=env, cwd=tmp_path)
    try:
        _wait_for_http(f"http://127.0.0.1:{port}/ping", process, log, timeout_s=120)
        body = json.dumps({"dataframe_split": {"columns": ["text"], "data": [[t] for t in TINY_TEXTS[:3]]}})
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations",
            data=body.encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.loads(response.read())
    finally:
        _stop(process)
    predictions = answer["predictions"]
    assert len(predictions) == 3
    assert all(p["label"] in LABELS and 0 < p["score"] <= 1 for p in predictions)
    assert predictions[0]["score"] == max(predictions[0][f"prob_{label}"] for label in LABELS)
