"""prune.nas selection: each rule on a known front, the infeasible-target error, and the whole pruner on
a tiny model failing a target no point meets without losing its front (logged to a real MLflow store)."""

from __future__ import annotations

import json

import pytest

from slimnlp import models
from slimnlp.config import config_from_dict
from slimnlp.prune import PruneContext, get_pruner
from slimnlp.prune.nas.artifacts import slice_front_point
from slimnlp.prune.nas.front import FRONT_FILES, NasSelectionError, select_point, spread
from tests.helpers_models import TINY_LABELS, TINY_TEXTS, build_tiny_model_dir

TEACHER_ACCURACY = 0.80


def _point(arch, accuracy, ms, size, speedup):
    return {
        "arch": arch,
        "dev_accuracy": accuracy,
        "measured_ms_b32": ms,
        "size_bytes": size,
        "speedup_b32": speedup,
    }


# fastest first; the sizes do not follow latency everywhere (a dropped layer is fast but not small)
FRONT = [
    _point("-|-|-|1x64", 0.60, 2.0, 300, 5.0),
    _point("-|-|2x256|2x256", 0.74, 3.5, 500, 2.9),
    _point("-|4x512|4x512|4x512", 0.791, 5.0, 900, 2.0),
    _point("2x128|2x128|2x128|2x128", 0.795, 6.0, 700, 1.7),
    _point("4x1024|4x1024|4x1024|4x1024", 0.80, 10.0, 2000, 1.0),
]


def _select(rule, **targets):
    targets.setdefault("max_accuracy_drop", 0.01)
    return select_point(FRONT, TEACHER_ACCURACY, rule, batch_size=32, **targets)["arch"]


def test_fastest_within_an_accuracy_budget():
    assert _select("fastest_within") == "-|4x512|4x512|4x512"  # 0.791: within 1 point, the fastest
    assert _select("fastest_within", max_accuracy_drop=0.005) == "2x128|2x128|2x128|2x128"
    assert _select("fastest_within", max_accuracy_drop=0.3) == "-|-|-|1x64"


def test_smallest_within_an_accuracy_budget():
    assert _select("smallest_within") == "2x128|2x128|2x128|2x128"  # 700 B beats 900 B at equal budget
    assert _select("smallest_within", max_accuracy_drop=0.1) == "-|-|2x256|2x256"
    assert _select("smallest_within", max_accuracy_drop=0.25) == "-|-|-|1x64"


def test_most_accurate_under_a_latency_or_a_speedup_target():
    assert _select("most_accurate_under", max_latency_ms=5.5) == "-|4x512|4x512|4x512"
    assert _select("most_accurate_under", max_latency_ms=3.5) == "-|-|2x256|2x256"
    assert _select("most_accurate_under", min_speedup=1.5) == "2x128|2x128|2x128|2x128"
    assert _select("most_accurate_under", min_speedup=3) == "-|-|-|1x64"


def test_an_unreachable_accuracy_budget_names_the_best_point_and_what_to_relax():
    front = FRONT[:-1]  # without the full network nothing is within 0.004 of the teacher
    with pytest.raises(NasSelectionError) as err:
        select_point(front, TEACHER_ACCURACY, "fastest_within", batch_size=32, max_accuracy_drop=0.004)
    message = str(err.value)
    assert "2x128|2x128|2x128|2x128" in message and "0.7950" in message
    assert "prune.nas.max_accuracy_drop to >= 0.0050" in message and "prune.nas.steps" in message


@pytest.mark.parametrize(
    ("targets", "reachable", "knob"),
    [
        ({"max_latency_ms": 1.0}, "Raise prune.nas.max_latency_ms to 2.00", "2.00 ms at batch 32"),
        ({"min_speedup": 8.0}, "Lower prune.nas.min_speedup to 5.00", "5.00x"),
    ],
)
def test_an_unreachable_speed_target_names_the_fastest_point_and_what_to_relax(targets, reachable, knob):
    with pytest.raises(NasSelectionError) as err:
        select_point(
            FRONT, TEACHER_ACCURACY, "most_accurate_under", batch_size=32, max_accuracy_drop=0.01, **targets
        )
    message = str(err.value)
    assert "the fastest is -|-|-|1x64" in message and reachable in message and knob in message
    assert "prune.nas.space" in message


def test_spread_keeps_both_ends():
    assert [p["arch"] for p in spread(FRONT, 3)] == [FRONT[0]["arch"], FRONT[2]["arch"], FRONT[4]["arch"]]
    assert spread(FRONT, 10) == FRONT


# --------------------------------------------------------------------------------------------------
# The whole pruner: a target no point meets fails, the front stays on disk and in MLflow


FAST = {
    "space": "large",
    "ffn_step": 32,
    "steps": 4,
    "batch_size": 8,
    "eval_every": 2,
    "importance_batches": 1,
    "latency_runtime": "pytorch",
    "latency_rounds": 1,
    "latency_iterations": 2,
    "candidates": 8,
    "population": 4,
    "front_checks": 3,
}


def _mlflow_run(tmp_path):
    import mlflow

    from slimnlp.mlops.tracking import StepRun

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.create_experiment("nas", artifact_location=(tmp_path / "artifacts").as_uri())
    return StepRun(run_id=client.create_run(experiment).info.run_id, client=client)


def test_an_unreachable_target_fails_the_pruner_but_keeps_the_front(tmp_path):
    teacher_dir = build_tiny_model_dir(tmp_path / "teacher")
    model, tokenizer = models.load_model_dir(teacher_dir)
    section = {**FAST, "select": "most_accurate_under", "max_latency_ms": 1e-6}
    config = config_from_dict({"prune": {"method": "nas", "nas": section}}).prune
    run = _mlflow_run(tmp_path)
    context = PruneContext(
        config=config, max_length=32, seed=13, progress=False, out_dir=tmp_path / "out", mlflow_run=run
    )
    with pytest.raises(NasSelectionError, match=r"no front point reaches 1e-06 ms at batch 32"):
        get_pruner("nas").prune(
            model, tokenizer, (TINY_TEXTS, TINY_LABELS), (TINY_TEXTS, TINY_LABELS), context
        )
    artifacts = tmp_path / "out" / "prune_artifacts"
    for name in (*FRONT_FILES, "latency_table.json", "supernet_history.json"):
        assert (artifacts / name).is_file(), name
    front = json.loads((artifacts / "front.json").read_text())
    assert front["selected"] is None and 1 <= len(front["points"]) <= 3
    assert front["teacher"]["dev_accuracy"] is not None
    for point in front["points"]:
        assert point["measured_ms_b32"] > 0 and point["size_bytes"] > 0
    # Every front point can still be sliced from the saved super-network.
    point = front["points"][-1]
    sliced, _ = models.load_model_dir(slice_front_point(artifacts, point["arch"], tmp_path / "point"))
    assert models.model_layout(sliced)["heads_per_layer"] == point["heads_per_layer"]
    assert models.model_layout(sliced)["intermediate_sizes"] == point["ffn_per_layer"]
    # The zero-layer point (prune.nas.pooled_point) is the front's fastest, trained and saved apart.
    zero = front["points"][0]
    assert zero["arch"] == "-|-" and zero["encoder_params"] == 0 and zero["kept_layers"] == []
    assert zero["measured_ms_b32"] > 0 and 0 <= zero["dev_accuracy"] <= 1
    pooled, _ = models.load_model_dir(slice_front_point(artifacts, "-|-", tmp_path / "zero"))
    assert models.model_layout(pooled) == {
        "head_dim": 8,
        "heads_per_layer": [],
        "intermediate_sizes": [],
        "pooling": "mean",
    }
    table = json.loads((artifacts / "latency_table.json").read_text())
    assert table["runtime"] == "pytorch" and table["machine"]["cpu_model"]
    logged = {a.path for a in run.client.list_artifacts(run.run_id, "prune_artifacts")}
    assert {f"prune_artifacts/{name}" for name in FRONT_FILES} <= logged
    history = run.client.get_metric_history(run.run_id, "supernet_dev_accuracy_smallest")
    assert [m.step for m in history] == [2, 4]  # the curve: one point per eval_every steps
    logged_metrics = run.client.get_run(run.run_id).data.metrics
    assert logged_metrics["nas_seconds_search"] > 0 and logged_metrics["nas_seconds_pooled"] > 0
    assert 0 <= logged_metrics["nas_pooled_search_accuracy"] <= 1


@pytest.mark.slow  # ~1 min: the whole pruner on a tiny model
def test_the_pruner_chooses_on_selection_rows_and_writes_the_recovery_candidates(tmp_path):
    teacher_dir = build_tiny_model_dir(tmp_path / "teacher")
    model, tokenizer = models.load_model_dir(teacher_dir)
    section = {**FAST, "select": "fastest_within", "max_accuracy_drop": 1.0, "recover_top_k": 2}
    config = config_from_dict({"prune": {"method": "nas", "nas": section}}).prune
    context = PruneContext(config=config, max_length=32, seed=13, progress=False, out_dir=tmp_path / "out")
    dev = (TINY_TEXTS, TINY_LABELS)
    report = get_pruner("nas").prune(model, tokenizer, dev, dev, context)
    extras = report.metrics()
    assert extras["nas_selection_rows"] + extras["nas_search_rows"] == len(TINY_TEXTS)
    assert extras["nas_selected_delta_low"] <= extras["nas_selected_delta_vs_teacher"]
    assert extras["nas_recovery_candidates"] == 2
    listing = json.loads((tmp_path / "out" / "candidates" / "candidates.json").read_text())
    assert listing["budget"] == 1.0 and listing["selected"] in [c["arch"] for c in listing["candidates"]]
    for c in listing["candidates"]:
        sliced, _ = models.load_model_dir(tmp_path / "out" / "candidates" / c["dir"])
        assert models.model_layout(sliced)["heads_per_layer"] == c["heads_per_layer"]
    # With a budget of 1.0 the fastest point is chosen: the zero-layer one, the model the step saves.
    assert listing["candidates"][0]["arch"] == listing["selected"] == extras["nas_selected"] == "-|-"
    assert models.model_layout(model).get("pooling") == "mean" and models.encoder_layers(model) == []
    front = json.loads((tmp_path / "out" / "prune_artifacts" / "front.json").read_text())
    assert all("delta_low" in p for p in front["points"])
