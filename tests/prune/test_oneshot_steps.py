"""The steps around a one-shot pruner, as the CLI and KFP run them: distill and finetune-amp keep the
zeros an unstructured pruner left; a training step over its time budget fails before its first step."""

from __future__ import annotations

import mlflow
import pytest

from slimnlp import models, steps
from slimnlp.mlops import tracking
from slimnlp.mlops.resources import ResourceError
from slimnlp.prune.oneshot.recovery import zero_count
from slimnlp.prune.oneshot.unstructured import layer_linears
from tests.helpers_models import tiny_step_config


def _config(tmp_path, *extra):
    return tiny_step_config(
        tmp_path,
        "distill.epochs=1",
        "distill.batch_size=16",
        "finetune_amp.epochs=1",
        "finetune_amp.batch_size=16",
        "prune.calibration.samples=16",
        *extra,
    )


def _encoder_weights(model_dir) -> int:
    model, _ = models.load_model_dir(model_dir)
    return sum(
        linear.weight.numel()
        for layer in models.encoder_layers(model)
        for linear in layer_linears(layer).values()
    )


def test_distill_and_finetune_amp_keep_the_zeros_of_an_unstructured_pruner(tmp_path):
    cfg = _config(tmp_path, "prune.method=wanda", "prune.target_sparsity=0.5")
    d = {name: tmp_path / name for name in ("data", "teacher", "pruned", "distilled", "amp")}
    with tracking.parent_run(cfg) as parent:
        steps.prepare_data(cfg, d["data"], parent_run_id=parent)
        steps.train_teacher(cfg, d["data"], d["teacher"], parent_run_id=parent)
        steps.prune(cfg, d["data"], d["teacher"], d["pruned"], parent_run_id=parent)
        distilled = steps.distill(
            cfg, d["data"], d["teacher"], d["pruned"], d["distilled"], parent_run_id=parent
        )
        amp = steps.finetune_amp(cfg, d["data"], d["teacher"], d["distilled"], d["amp"], parent_run_id=parent)
    half = _encoder_weights(d["teacher"]) // 2
    pruned_zeros = zero_count(models.load_model_dir(d["pruned"])[0])
    assert pruned_zeros == pytest.approx(half, rel=0.02)
    for out, metrics in ((d["distilled"], distilled), (d["amp"], amp)):
        model, _ = models.load_model_dir(out)
        assert zero_count(model) >= pruned_zeros, f"{out.name} filled pruned weights back in"
        assert metrics["zeros_kept"] == zero_count(model)


def test_a_training_step_over_its_time_budget_fails_before_its_first_step(tmp_path):
    cfg = _config(tmp_path, "teacher.epochs=50", "teacher.budget_minutes=0.0001")
    with tracking.parent_run(cfg) as parent:
        steps.prepare_data(cfg, tmp_path / "data", parent_run_id=parent)
        with pytest.raises(
            ResourceError,
            match=r"teacher: training would take .* \(teacher\.budget_minutes\); reduce teacher\.epochs",
        ):
            steps.train_teacher(cfg, tmp_path / "data", tmp_path / "teacher", parent_run_id=parent)
    assert not (tmp_path / "teacher" / "model.safetensors").exists()
    client = mlflow.MlflowClient(cfg.tracking.tracking_uri)
    runs = {
        r.info.run_name: r
        for r in client.search_runs([client.get_experiment_by_name(cfg.tracking.experiment).experiment_id])
    }
    assert runs["train-teacher"].info.status == "FAILED"
    assert runs["prepare-data"].info.status == "FINISHED"
    assert (tmp_path / "data" / "train.arrow").is_file()  # nothing earlier lost
