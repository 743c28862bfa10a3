"""Done-when of the registry issue, as one story on real servers (MLflow + SeaweedFS artifacts):

1. a local pipeline run registers a challenger and the gate promotes it to champion;
2. a second run with a deliberately worse config (barely pruned, less trained) is refused, with
   the reasons printed in the run summary;
3. a person forces that version to champion anyway (`registry promote`), and `registry rollback`
   restores the previous champion;
4. a fresh process that cannot import slimnlp predicts with `models:/NAME@champion`.

scripts/registry_demo.sh runs the same sequence by hand and prints every step's output.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import mlflow
import pytest

from slimnlp_pipelines.cli import main
from tests.helpers_models import TINY_PIPELINE_SETTINGS

TINY = [
    *TINY_PIPELINE_SETTINGS,
    "benchmark.peak_memory='off'",
    "tracking.codecarbon=false",
    # The size gate is deterministic (latency on a shared 2-core machine is not); the budget vs the
    # teacher is wide because a 2-layer teacher trained for seconds is itself noisy.
    "registry.gate=smaller",
    "registry.max_drop_vs_teacher=0.15",
    # Embeddings are most of a 2-layer model: pruning half its heads and neurons saves ~9% of its bytes.
    "registry.min_ratio=1.05",
]
GOOD = ["prune.target_sparsity=0.5"]
WORSE = ["prune.target_sparsity=0.05", "distill.epochs=1", "finetune_amp.epochs=0"]


def run_args(root, url, name, extra):
    settings = [
        f"output_dir={root}",
        f"tracking.tracking_uri={url}",
        f"registry.model_name={name}",
        *TINY,
        *extra,
    ]
    return [arg for setting in settings for arg in ("--set", setting)]


@pytest.mark.slow
def test_register_gate_refuse_rollback_and_serve(mlflow_s3_server, s3_server, tmp_path, capsys):
    name = f"e2e-{uuid.uuid4().hex[:6]}"
    url = mlflow_s3_server.url
    mlflow.set_tracking_uri(url)
    client = mlflow.MlflowClient(url)

    # 1. A good run: challenger and champion.
    assert main(["run", "--set", "name=good", *run_args(tmp_path, url, name, GOOD)]) == 0
    out = capsys.readouterr().out
    assert f"Promotion: {name} version 1 is challenger; PROMOTED to champion" in out
    assert client.get_registered_model(name).aliases == {"challenger": "1", "champion": "1"}
    decision = json.loads((tmp_path / "good" / "report" / "run.json").read_text())["steps"]["promote"]
    assert decision["metrics"]["promoted"] == 1.0
    # The model's files went through the server into the SeaweedFS bucket.
    keys = [o["Key"] for o in s3_server.client().list_objects_v2(Bucket="mlflow-artifacts")["Contents"]]
    assert any(k.endswith("artifacts/onnx/model.int8.onnx") for k in keys)  # the LoggedModel, int8

    # 2. A worse run: registered as challenger, refused as champion, reasons printed.
    assert main(["run", "--set", "name=worse", *run_args(tmp_path, url, name, WORSE)]) == 0
    out = capsys.readouterr().out
    assert f"Promotion: {name} version 2 is challenger; NOT promoted (champion unchanged)" in out
    assert "FAIL smaller than champion" in out
    assert client.get_registered_model(name).aliases == {"challenger": "2", "champion": "1"}
    assert client.get_model_version(name, "2").tags["slimnlp.decision"] == "refused"

    # 3. Forced by hand, then rolled back.
    assert main(["registry", "promote", name, "2", "--tracking-uri", url]) == 0
    assert main(["registry", "rollback", name, "--tracking-uri", url]) == 0
    assert "rolled back; champion is now version 1, previous is version 2" in capsys.readouterr().out
    assert client.get_registered_model(name).aliases == {"challenger": "2", "champion": "1", "previous": "2"}

    # 4. A fresh process without slimnlp predicts with the champion.
    code = (
        "import sys; sys.modules['slimnlp'] = None\n"
        "import json, mlflow, pandas as pd\n"
        f"out = mlflow.pyfunc.load_model('models:/{name}@champion').predict("
        "pd.DataFrame({'text': ['भारताने क्रिकेट सामना जिंकला', 'शेअर बाजार आज घसरला']}))\n"
        "print(json.dumps(out.to_dict(orient='records'), ensure_ascii=False))\n"
    )
    env = {**os.environ, "MLFLOW_TRACKING_URI": url}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env
    )
    assert result.returncode == 0, result.stderr[-3000:]
    predictions = json.loads(result.stdout.strip().splitlines()[-1])
    labels = json.loads((tmp_path / "good" / "report" / "results.json").read_text())["id2label"].values()
    assert len(predictions) == 2 and all(p["label"] in labels for p in predictions)
