"""One lineage from a KFP run to MLflow, on a real MLflow server (with S3 artifacts): the parent run
the pipeline opens carries the KFP run id, name and UI URL; the promote step finds it by the KFP run
id alone (as a cached pod does, from its `pipeline/runid` label), and its step run and the
registered model version carry the same ids; the parent run the pipeline opened ends with promote.
"""

import uuid

import mlflow
import pytest

from slimnlp import steps
from slimnlp.mlops.lineage import KFP_RUN_ENV
from slimnlp.mlops.run_parameters import resolve_run
from slimnlp.steps.spec import CANDIDATE_STEPS, STEPS
from tests.promote.test_registry import config, results_dir, run_outputs  # noqa: F401 - fixture


@pytest.mark.slow  # an MLflow server with S3 artifacts and a real registration
def test_the_kfp_run_id_reaches_the_step_run_and_the_registered_version(
    mlflow_s3_server,
    run_outputs,  # noqa: F811 - the fixture imported above
    monkeypatch,
):
    name = f"lineage-{uuid.uuid4().hex[:6]}"
    cfg = config(mlflow_s3_server.url, name)
    kfp_run = f"kfp-{uuid.uuid4().hex[:8]}"
    for variable in ("MLFLOW_RUN_ID", "SLIMNLP_PARENT_RUN_ID"):
        monkeypatch.delenv(variable, raising=False)

    # resolve-config: no parent injected, so it opens one, tagged with the KFP run.
    outputs = resolve_run(cfg.to_json(), {}, [], "", "", kfp_run, "shc-weekly", "http://kfp.example")
    assert len(outputs) == len(STEPS) + len(CANDIDATE_STEPS) + 1  # a config per task, the fingerprint
    client = mlflow.MlflowClient(mlflow_s3_server.url)
    (parent,) = client.search_runs(
        [client.get_experiment_by_name(cfg.tracking.experiment).experiment_id],
        filter_string=f"tags.`kfp.run_id` = '{kfp_run}'",
    )
    assert parent.data.tags["kfp.run_name"] == "shc-weekly"
    assert parent.data.tags["kfp.ui_url"] == f"http://kfp.example/#/runs/details/{kfp_run}"
    assert parent.info.status == "RUNNING"

    # promote, in a pod that knows only its KFP run id.
    monkeypatch.setenv(KFP_RUN_ENV, kfp_run)
    out = run_outputs["root"] / f"promote-{uuid.uuid4().hex[:6]}"
    result = steps.promote(
        cfg,
        run_outputs["data"],
        run_outputs["teacher"],
        run_outputs["onnx"],
        results_dir(run_outputs["root"], latency=0.5),
        out,
    )
    decision = result["decision"]
    assert decision["lineage"]["kfp.run_id"] == kfp_run
    (step_run,) = client.search_runs(
        [parent.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'"
    )
    assert step_run.data.tags["slimnlp.step"] == "promote" and step_run.data.tags["kfp.run_id"] == kfp_run
    version = client.get_model_version(name, decision["version"])
    assert version.tags["kfp.run_id"] == kfp_run
    assert version.tags["kfp.ui_url"].endswith(kfp_run)
    assert version.tags["slimnlp.parent_run_id"] == parent.info.run_id
    from slimnlp.mlops.ui_outputs import decision_markdown

    assert f"| kfp.run_id | {kfp_run} |" in decision_markdown(out)  # what the KFP UI shows
    # The pipeline opened the parent run, so its last step ends it.
    assert client.get_run(parent.info.run_id).info.status == "FINISHED"
