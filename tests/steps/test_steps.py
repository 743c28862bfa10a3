"""Every step alone, in order, on the shipped sample: the step contract, the MLflow run tree,
determinism, and what a failing step leaves behind."""

import json
from pathlib import Path

import mlflow
import pytest
from safetensors.torch import load_file

from slimnlp import models, steps
from slimnlp.config import load_config
from slimnlp.mlops import tracking
from tests import expected_steps
from tests.helpers_models import TINY_PIPELINE_SETTINGS

# The benchmark's peak-memory probes and inference energy are tested in test_benchmark.py and
# test_benchmark_energy.py; here they would be 65 of the fixture's 110 s.
TINY = [
    *TINY_PIPELINE_SETTINGS,
    "prune.target_sparsity=0.25",
    "benchmark.peak_memory='off'",
    "benchmark.energy=false",
]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("steps")
    cfg = load_config(
        overrides=[
            f"output_dir={root}",
            "name=steps",
            f"tracking.tracking_uri=sqlite:///{root}/mlflow.db",
            *TINY,
        ]
    )
    out = {
        name: root / name for name in ("data", "teacher", "pruned", "distilled", "student", "onnx", "bench")
    }
    metrics = {}
    with tracking.parent_run(cfg) as parent:
        metrics["data"] = steps.prepare_data(cfg, out["data"], parent_run_id=parent)
        metrics["teacher"] = steps.train_teacher(cfg, out["data"], out["teacher"], parent_run_id=parent)
        metrics["pruned"] = steps.prune(cfg, out["data"], out["teacher"], out["pruned"], parent_run_id=parent)
        metrics["distilled"] = steps.distill(
            cfg, out["data"], out["teacher"], out["pruned"], out["distilled"], parent_run_id=parent
        )
        metrics["student"] = steps.finetune_amp(
            cfg, out["data"], out["teacher"], out["distilled"], out["student"], parent_run_id=parent
        )
        metrics["onnx"] = steps.export_onnx(
            cfg, out["data"], out["student"], out["onnx"], parent_run_id=parent
        )
        metrics["bench"] = steps.benchmark(
            cfg, out["data"], out["teacher"], out["student"], out["onnx"], out["bench"], parent_run_id=parent
        )
    return {"cfg": cfg, "out": out, "metrics": metrics, "parent": parent}


def test_every_step_writes_its_directory_and_metrics(run):
    out, metrics = run["out"], run["metrics"]
    for name, directory in out.items():
        written = json.loads((directory / "metrics.json").read_text())  # the step contract
        # written once, at the end, by the step body: the step's own figures and its own time
        assert written["step_duration_s"] > 0, name
        # ... and its peak memory (torch and the model are in it: well over 100 MB)
        assert 0.1 < written["step_peak_rss_gib"] < 20, name
        returned = {k: v for k, v in metrics[name].items() if k not in ("rows", "summary")}
        assert {k: written[k] for k in returned} == json.loads(json.dumps(returned)), name
    for name in ("teacher", "pruned", "distilled", "student"):
        assert (out[name] / "model.safetensors").is_file() and (out[name] / models.LAYOUT_FILE).is_file()
    assert metrics["data"]["num_labels"] >= 6
    chance = 1 / metrics["data"]["num_labels"]
    assert metrics["teacher"]["test_accuracy"] > 2 * chance
    assert metrics["student"]["test_accuracy"] > 2 * chance


def test_pruned_model_is_smaller_and_heads_are_gone(run):
    pruned = run["metrics"]["pruned"]
    assert pruned["params_after"] < pruned["params_before"]
    assert pruned["heads_removed"] == 2 and sum(pruned["heads_per_layer_after"]) == 6
    weights = load_file(str(run["out"]["pruned"] / "model.safetensors"))
    q_rows = [weights[f"bert.encoder.layer.{i}.attention.self.query.weight"].shape[0] for i in range(2)]
    assert sum(q_rows) == 6 * 8  # 6 heads of 8 dims survive
    layout = json.loads((run["out"]["student"] / models.LAYOUT_FILE).read_text())
    assert layout["heads_per_layer"] == pruned["heads_per_layer_after"]


def test_export_parity_and_benchmark_rows(run):
    export = run["metrics"]["onnx"]
    assert export["max_abs_diff"] <= run["cfg"].export.atol
    assert (run["out"]["onnx"] / "model.onnx").is_file() and (
        run["out"]["onnx"] / "model.int8.onnx"
    ).is_file()
    rows = {r["name"]: r for r in run["metrics"]["bench"]["rows"]}
    assert {"teacher-pytorch", "teacher-onnx", "student-pytorch", "student-onnx", "student-onnx-int8"} <= set(
        rows
    )
    assert rows["student-pytorch"]["params_total"] < rows["teacher-pytorch"]["params_total"]
    assert rows["student-pytorch"]["accuracy"] == pytest.approx(run["metrics"]["student"]["test_accuracy"])
    assert (run["out"]["bench"] / "results.json").is_file()


def test_mlflow_run_tree(run):
    mlflow.set_tracking_uri(tracking.tracking_uri(run["cfg"]))
    client = mlflow.MlflowClient()
    parent = client.get_run(run["parent"])
    assert parent.info.status == "FINISHED"
    children = client.search_runs(
        [parent.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{run['parent']}'"
    )
    # promote (registry side effects) is run and checked in tests/promote/test_registry.py
    assert sorted(c.info.run_name for c in children) == sorted(set(expected_steps.STEPS) - {"promote"})
    assert {c.info.status for c in children} == {"FINISHED"}
    teacher = next(c for c in children if c.info.run_name == "train-teacher")
    assert "test_accuracy" in teacher.data.metrics and "duration_s" in teacher.data.metrics
    assert teacher.data.params["teacher.num_layers"] == "2"
    history = client.get_metric_history(teacher.info.run_id, "dev_macro_f1")
    assert len(history) == run["metrics"]["teacher"]["epochs_run"]
    artifacts = {a.path for a in client.list_artifacts(teacher.info.run_id, "teacher")}
    assert "teacher/model.safetensors" in artifacts


def test_a_failing_step_is_marked_failed_and_leaves_earlier_artifacts(run, tmp_path):
    cfg, out = run["cfg"], run["out"]
    before = sorted(p.name for p in out["teacher"].iterdir())
    with tracking.parent_run(cfg) as parent:
        with pytest.raises(models.ModelDirError, match="not a model directory"):
            steps.prune(cfg, out["data"], tmp_path / "no-teacher", tmp_path / "pruned", parent_run_id=parent)
    client = mlflow.MlflowClient()
    failed = client.search_runs(
        [client.get_run(parent).info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent}'"
    )
    assert [(r.info.run_name, r.info.status) for r in failed] == [("prune", "FAILED")]
    assert "not a model directory" in failed[0].data.tags["slimnlp.error"]
    assert sorted(p.name for p in out["teacher"].iterdir()) == before


def test_a_step_gives_the_same_result_twice(run, tmp_path):
    again = steps.prune(run["cfg"], run["out"]["data"], run["out"]["teacher"], tmp_path / "pruned")
    first = run["metrics"]["pruned"]
    assert again["kept_heads"] == first["kept_heads"]
    assert again["test_accuracy"] == first["test_accuracy"]
    a = load_file(str(Path(run["out"]["pruned"]) / "model.safetensors"))
    b = load_file(str(tmp_path / "pruned" / "model.safetensors"))
    assert all((a[k] == b[k]).all() for k in a)
