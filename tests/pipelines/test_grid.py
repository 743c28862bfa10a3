"""The paper's grid: the compiled DAG, branch configs, the collected table, and (slow) a real
kfp.local run on a tiny model that produces a table with every row."""

import csv
import json
from pathlib import Path

import pytest
import yaml

from slimnlp.config import load_config
from slimnlp.grid.branches import GridError, branch_config, branches, write_branch_row, write_grid_report
from slimnlp_pipelines.cli import main

REPO = Path(__file__).resolve().parents[2]
BRANCH_TASKS = {"grid-branch-config", "prune", "finetune-amp", "export-onnx", "benchmark", "grid-row"}


def test_paper_grid_config_loads_with_16_branches():
    cfg = load_config(REPO / "configs" / "paper-grid.yaml")
    items = branches(cfg)
    assert cfg.grid.enabled and len(items) == 16 and len({b["id"] for b in items}) == 16
    assert {b["sparsity"] for b in items} == {0.0, 0.25, 0.5, 0.75}
    assert {(b["kd"], b["precision"]) for b in items} == {
        (False, "fp32"),
        (False, "auto"),
        (True, "fp32"),
        (True, "auto"),
    }


def test_compiled_grid_dag(tmp_path):
    out = tmp_path / "grid.yaml"
    assert main(["compile", "--config", str(REPO / "configs" / "paper-grid.yaml"), "--out", str(out)]) == 0
    spec = next(yaml.safe_load_all(out.read_text(encoding="utf-8")))
    assert spec["pipelineInfo"]["name"] == "slimnlp-grid"
    tasks = spec["root"]["dag"]["tasks"]
    (loop_name,) = [name for name in tasks if name.startswith("for-loop")]
    assert set(tasks) == {"prepare-data", "train-teacher", "grid-collect", loop_name}
    loop = tasks[loop_name]
    assert loop["iteratorPolicy"]["parallelismLimit"] == 1
    items = json.loads(loop["parameterIterator"]["items"]["raw"])
    assert len(items) == 16 and items[6] == {
        "id": "s25-kd-fp32",
        "kd": True,
        "precision": "fp32",
        "sparsity": 0.25,
    }
    assert set(loop["dependentTasks"]) == {"prepare-data", "train-teacher"}  # one shared teacher
    inner = spec["components"][loop["componentRef"]["name"]]["dag"]["tasks"]
    assert set(inner) == BRANCH_TASKS
    # Each branch's steps read the branch's config, not the pipeline's.
    for name in ("prune", "finetune-amp", "export-onnx", "benchmark"):
        source = inner[name]["inputs"]["parameters"]["config_json"]
        assert source["taskOutputParameter"]["producerTask"] == "grid-branch-config"
    assert (
        inner["benchmark"]["inputs"]["artifacts"]["student"]["taskOutputArtifact"]["producerTask"]
        == "finetune-amp"
    )
    rows = tasks["grid-collect"]["inputs"]["artifacts"]["rows"]["taskOutputArtifact"]
    assert rows["producerTask"] == loop_name  # dsl.Collected over every branch's row


def test_branch_config_sets_method_sparsity_kd_and_precision():
    cfg = load_config(REPO / "configs" / "paper-grid.yaml")
    plain = branch_config(cfg, {"id": "s50-ce-amp", "sparsity": 0.5, "kd": False, "precision": "auto"})
    assert plain.prune.method == "block_movement" and plain.prune.target_sparsity == 0.5
    assert plain.prune.block_movement.alpha == 0 and plain.finetune_amp.alpha == 0
    assert plain.finetune_amp.precision == "auto"
    kd = branch_config(cfg, {"id": "s00-kd-fp32", "sparsity": 0.0, "kd": True, "precision": "fp32"})
    assert kd.prune.block_movement.alpha == cfg.prune.block_movement.alpha > 0
    assert kd.finetune_amp.precision == "fp32"
    with pytest.raises(GridError, match="lacks"):
        branch_config(cfg, {"id": "x"})


def _fake_branch_outputs(root: Path, branch: dict, latency: float, teacher_latency: float) -> list[Path]:
    """The files a real branch leaves: prune and finetune-amp metrics.json, benchmark results.json."""
    pruned, student, results = root / "pruned", root / "student", root / "results"
    for d in (pruned, student, results):
        d.mkdir(parents=True)
    (pruned / "metrics.json").write_text(
        json.dumps(
            {
                "structural_sparsity": branch["sparsity"],
                "weight_sparsity": branch["sparsity"],
                "heads_per_layer_after": [4, 3],
                "neurons_per_layer_after": [64, 48],
                "layers_clamped_to_min_heads": [],
            }
        )
    )
    (student / "metrics.json").write_text(json.dumps({"precision": "fp32", "precision_reason": "auto: CPU"}))
    rows = [
        {
            "role": "teacher",
            "runtime": "onnx",
            "accuracy": 0.9,
            "latency_b32_p50_ms": teacher_latency,
            "size_bytes": 1000,
        },
        {
            "role": "student",
            "runtime": "onnx",
            "accuracy": 0.88,
            "latency_b32_p50_ms": latency,
            "speedup_vs_teacher_b32": teacher_latency / latency,
            "size_bytes": 600,
        },
    ]
    (results / "results.json").write_text(json.dumps({"rows": rows}))
    return [pruned, student, results]


def test_grid_report_has_every_row_a_plot_and_the_precision_that_ran(tmp_path):
    cfg = load_config(REPO / "configs" / "paper-grid.yaml")
    row_dirs = []
    for i, branch in enumerate(branches(cfg)):
        outputs = _fake_branch_outputs(tmp_path / branch["id"], branch, 10.0 - i * 0.5, 12.0 + i)
        write_branch_row(branch, *outputs, tmp_path / branch["id"] / "row")
        row_dirs.append(tmp_path / branch["id"] / "row")
    report = write_grid_report(row_dirs, tmp_path / "report")
    table = Path(report["files"]["markdown"]).read_text(encoding="utf-8")
    assert all(f"| {b['id']} |" in table for b in branches(cfg)) and "| teacher |" in table
    assert "auto ran as fp32: auto: CPU" in table
    with open(report["files"]["csv"], encoding="utf-8") as handle:
        csv_rows = list(csv.DictReader(handle))
    assert len(csv_rows) == 17 and csv_rows[0]["branch"] == "teacher"
    assert float(csv_rows[0]["latency_b32_p50_ms"]) == 20.0  # the median of the 16 teacher measurements
    assert Path(report["files"]["plot"]).stat().st_size > 10_000
    assert [r["sparsity"] for r in report["rows"]] == sorted(r["sparsity"] for r in report["rows"])


def test_a_branch_without_an_onnx_row_is_named(tmp_path):
    branch = {"id": "s25-kd-fp32", "sparsity": 0.25, "kd": True, "precision": "fp32"}
    pruned, student, results = _fake_branch_outputs(tmp_path, branch, 5.0, 10.0)
    (results / "results.json").write_text(json.dumps({"rows": []}))
    with pytest.raises(GridError, match="s25-kd-fp32.*onnx"):
        write_branch_row(branch, pruned, student, results, tmp_path / "row")


TINY_GRID = [
    "name=tiny-grid",
    "data.max_train_rows=48",
    "data.max_dev_rows=24",
    "data.max_test_rows=24",
    "teacher.vocab_size=200",
    "teacher.num_layers=1",
    "teacher.hidden_size=32",
    "teacher.num_heads=4",
    "teacher.intermediate_size=64",
    "teacher.max_length=24",
    "teacher.epochs=1",
    "prune.block_movement.epochs=2",
    "prune.block_movement.batch_size=16",
    "finetune_amp.epochs=1",
    "export.quantize_int8=false",
    "export.parity_samples=8",
    "benchmark.sequence_length=24",
    "benchmark.rounds=1",
    "benchmark.iterations=2",
    "benchmark.warmup=1",
    "benchmark.runtimes=[onnx]",
    "benchmark.peak_memory='off'",
    "benchmark.energy=false",
    "benchmark.tfidf_baseline=false",
    "tracking.codecarbon=false",
    "grid.enabled=true",
    "grid.sparsities=[0.0, 0.5]",
    "grid.distillation=[false, true]",
    "grid.precisions=[auto]",
]


@pytest.mark.slow
def test_grid_runs_under_kfp_local_and_tables_every_row(tmp_path, monkeypatch, capsys):
    """Real steps on the shipped sample and a 1-layer BERT: 4 branches, ~4-8 min on 2 busy cores."""
    import mlflow
    import torch

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    settings = [*TINY_GRID, f"output_dir={tmp_path}", f"tracking.tracking_uri={uri}"]
    assert main(["run", *[a for s in settings for a in ("--set", s)]]) == 0
    report = tmp_path / "tiny-grid" / "report"
    grid = json.loads((report / "grid.json").read_text(encoding="utf-8"))
    assert sorted(r["branch"] for r in grid["rows"]) == [
        "s00-ce-amp",
        "s00-kd-amp",
        "s50-ce-amp",
        "s50-kd-amp",
    ]
    for row in grid["rows"]:
        assert row["precision_ran"] == ("fp16" if torch.cuda.is_available() else "fp32")  # what ran
        assert row["latency_b32_p50_ms"] > 0 and 0 <= row["accuracy"] <= 1
        assert abs(row["structural_sparsity"] - row["sparsity"]) <= 0.02
    assert (report / "grid.png").is_file() and (report / "grid.csv").is_file()
    assert "| s50-kd-amp |" in capsys.readouterr().out
    run_id = json.loads((report / "run.json").read_text(encoding="utf-8"))["parent_run_id"]
    logged = {a.path for a in mlflow.MlflowClient(uri).list_artifacts(run_id, "grid")}
    assert {"grid/grid.md", "grid/grid.csv", "grid/grid.png"} <= logged
