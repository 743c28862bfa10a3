"""The whole pipeline through the KFP SDK (kfp.local), real steps, on a subset of MahaNews SHC,
logging over HTTP to a real MLflow server."""

import json
import re
from pathlib import Path

import mlflow
import pytest
import torch
from safetensors.torch import load_file

from slimnlp_pipelines.cli import main
from tests.expected_steps import STEPS

# The whole pipeline on tiny models through the CLI and kfp.local (~4 min): make test-slow.
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
SMALL = [
    "data.max_train_rows=600",
    "data.max_dev_rows=120",
    "data.max_test_rows=240",
    "teacher.vocab_size=1500",
    "teacher.num_layers=2",
    "teacher.hidden_size=64",
    "teacher.num_heads=4",
    "teacher.intermediate_size=128",
    "teacher.epochs=10",
    "teacher.learning_rate=0.002",
    "distill.epochs=2",
    "finetune_amp.epochs=1",
    "benchmark.rounds=2",
    "benchmark.iterations=3",
    "benchmark.peak_memory='off'",
    "benchmark.energy_seconds=0.5",  # the inference-energy path runs; its figures are tested elsewhere
    "tracking.codecarbon=true",
]


@pytest.fixture(scope="module")
def pipeline_run(shared_data, mlflow_server, tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    assert main(["run", *_config_args(shared_data / "mahanews-shc", root, mlflow_server.url)]) == 0
    report = json.loads((root / "mahanews-shc" / "report" / "run.json").read_text())
    return {"root": root, "report": report, "server": mlflow_server, "data_dir": shared_data / "mahanews-shc"}


def test_pipeline_artifacts_and_numbers(pipeline_run):
    run_dir = pipeline_run["root"] / "mahanews-shc"
    results = json.loads((run_dir / "report" / "results.json").read_text())
    rows = {r["name"]: r for r in results["rows"]}
    teacher, student = rows["teacher-pytorch"], rows["student-pytorch"]
    assert student["params_total"] < teacher["params_total"]
    assert teacher["accuracy"] > 2 / 12 and student["accuracy"] > 2 / 12  # 12 topics: twice chance at least
    assert rows["student-onnx"]["accuracy"] == pytest.approx(student["accuracy"], abs=0.01)  # parity
    pipeline_dir = Path(pipeline_run["report"]["pipeline_dir"])
    data_report = json.loads((pipeline_dir / "prepare-data" / "data" / "data_report.json").read_text())
    assert (
        data_report["train_rows"] <= 600
        and data_report["dev_rows"] <= 120
        and data_report["test_rows"] <= 240
    )
    assert data_report["dropped_header_rows"] > 0  # the SHC files repeat their header
    export = json.loads((pipeline_dir / "export-onnx" / "onnx" / "metrics.json").read_text())
    assert export["max_abs_diff"] < 1e-3


def test_mlflow_server_holds_the_run_tree(pipeline_run):
    mlflow.set_tracking_uri(pipeline_run["server"].url)
    client = mlflow.MlflowClient()
    parent = client.get_run(pipeline_run["report"]["parent_run_id"])
    assert parent.info.status == "FINISHED"
    children = client.search_runs(
        [parent.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'"
    )
    assert sorted(c.info.run_name for c in children) == sorted(STEPS)
    assert all(c.info.status == "FINISHED" for c in children)
    by_name = {c.info.run_name: c for c in children}
    assert by_name["train-teacher"].data.metrics["energy_kwh"] > 0  # CodeCarbon ran
    artifacts = [a.path for a in client.list_artifacts(by_name["export-onnx"].info.run_id, "onnx")]
    assert "onnx/model.onnx" in artifacts
    assert by_name["finetune-amp"].data.tags["slimnlp.precision"] == "fp32"


def test_cli_steps_reproduce_the_pipeline_tasks(pipeline_run, tmp_path, capsys):
    """Acceptance 3: a step run alone from the CLI gives what the same step gave inside the pipeline."""
    pipeline_dir = Path(pipeline_run["report"]["pipeline_dir"])
    args = _config_args(pipeline_run["data_dir"], pipeline_run["root"], pipeline_run["server"].url)
    assert main(["prepare-data", *args, "--out", str(tmp_path / "data")]) == 0
    ours = json.loads((tmp_path / "data" / "data_report.json").read_text())
    theirs = json.loads((pipeline_dir / "prepare-data" / "data" / "data_report.json").read_text())
    assert ours["data_sha256"] == theirs["data_sha256"]
    assert (
        main(
            [
                "prune",
                *args,
                "--data",
                str(pipeline_dir / "prepare-data" / "data"),
                "--teacher",
                str(pipeline_dir / "train-teacher" / "model"),
                "--out",
                str(tmp_path / "pruned"),
            ]
        )
        == 0
    )
    a = load_file(str(tmp_path / "pruned" / "model.safetensors"))
    b = load_file(str(pipeline_dir / "prune" / "model" / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    capsys.readouterr()


def _config_args(data_dir, root, tracking_uri, extra=()):
    """--config/--set arguments of the small SHC run, shared by `run` and the step verbs."""
    args = ["--config", str(REPO / "configs" / "mahanews-shc.yaml")]
    for item in [
        f"data.dir={data_dir}",
        f"output_dir={root}",
        f"tracking.tracking_uri={tracking_uri}",
        *SMALL,
        *extra,
    ]:
        args += ["--set", item]
    return args


def test_bad_input_stops_the_run_with_the_step_message(shared_data, mlflow_server, tmp_path, capsys):
    args = _config_args(
        shared_data / "mahanews-shc", tmp_path, mlflow_server.url, ["data.text_column=Headline"]
    )
    # Past preflight (which names the column before any step: tests/test_preflight.py), to the step.
    assert main(["run", "--skip-preflight", *args]) == 1
    err = capsys.readouterr().err
    assert "the pipeline failed in step 'prepare-data'" in err
    assert "Headline" in err and "SHC_Valid.csv" in err  # the column and the file, in the final message
    run_id = re.search(r"MLflow parent run (\w+) is marked FAILED", err).group(1)
    mlflow.set_tracking_uri(mlflow_server.url)
    assert mlflow.MlflowClient().get_run(run_id).info.status == "FAILED"
