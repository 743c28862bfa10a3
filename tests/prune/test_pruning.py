"""Structured pruning: exact targets, floors, importance that finds dead heads, real removal."""

import pytest
import torch

from slimnlp import models
from slimnlp.prune.importance import Importance, prune_model, taylor_importance
from slimnlp.prune.removal import choose_removals

TEXTS = [
    "भारताने क्रिकेट सामना जिंकला",
    "निवडणुकीचा निकाल जाहीर",
    "मुसळधार पाऊस पडला",
    "नवीन स्मार्टफोन बाजारात",
    "रुग्णालयात लसीकरण सुरू",
    "शेअर बाजारात घसरण",
] * 4
LABELS = [0, 1, 2, 0, 1, 2] * 4


@pytest.fixture()
def model_and_tokenizer():
    tokenizer = models.train_wordpiece(TEXTS, 200, 16)
    torch.manual_seed(0)
    model = models.build_bert(
        len(tokenizer),
        3,
        {0: "a", 1: "b", 2: "c"},
        num_layers=3,
        hidden_size=32,
        num_heads=4,
        intermediate_size=64,
        max_length=16,
        dropout=0.0,
    ).eval()
    return model, tokenizer


def test_choose_removals_exact_count_and_floor():
    scores = [
        torch.tensor([1.0, 2.0, 3.0, 4.0]),
        torch.tensor([0.1, 0.2, 0.3, 0.4]),
        torch.tensor([5.0, 1.0, 1.0, 1.0]),
    ]
    kept, clamped = choose_removals(scores, 0.5, 1)
    assert sum(4 - len(k) for k in kept) == 6
    assert all(len(k) >= 1 for k in kept)
    kept, clamped = choose_removals(scores, 0.75, 2)  # 9 wanted, floors allow only 6
    assert [len(k) for k in kept] == [2, 2, 2] and clamped == [0, 1, 2]


def test_prune_removes_exact_fraction_and_shrinks(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    importance = taylor_importance(model, tokenizer, TEXTS, LABELS, batches=3, batch_size=8, max_length=16)
    report = prune_model(model, importance, head_fraction=0.25, ffn_fraction=0.5)
    assert report.heads_removed == 3 and report.neurons_removed == 96
    assert report.head_sparsity == pytest.approx(0.25) and report.ffn_sparsity == pytest.approx(0.5)
    assert report.params_after["total"] < report.params_before["total"]
    layout = models.model_layout(model)
    assert report.layout == layout
    assert sum(layout["heads_per_layer"]) == 9 and sum(layout["intermediate_sizes"]) == 96
    batch = tokenizer(TEXTS[:3], return_tensors="pt", padding=True)
    assert model(**batch).logits.shape == (3, 3)


def test_a_dead_head_is_ranked_last_and_is_the_one_removed(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    layer = models.encoder_layers(model)[1]
    rows = slice(2 * 8, 3 * 8)  # head 2 of layer 1, head_dim 8
    with torch.no_grad():
        layer.attention.self.value.weight[rows] = 0
        layer.attention.self.value.bias[rows] = 0
        layer.attention.output.dense.weight[:, rows] = 0
    importance = taylor_importance(model, tokenizer, TEXTS, LABELS, batches=2, batch_size=8, max_length=16)
    assert int(importance.heads[1].argmin()) == 2
    report = prune_model(
        model,
        Importance(heads=importance.heads, neurons=importance.neurons),
        head_fraction=1 / 12,
        ffn_fraction=0.01,
    )
    assert report.kept_heads[1] == [0, 1, 3]
    assert models.encoder_layers(model)[1].attention.self.query.out_features == 24


def test_removing_only_a_dead_head_keeps_outputs(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    layer = models.encoder_layers(model)[0]
    rows = slice(0, 8)
    with torch.no_grad():
        layer.attention.output.dense.weight[:, rows] = 0
    batch = tokenizer(TEXTS[:6], return_tensors="pt", padding=True)
    with torch.no_grad():
        before = model(**batch).logits
    models.keep_heads(layer, [1, 2, 3], 8)
    with torch.no_grad():
        assert torch.allclose(model(**batch).logits, before, atol=1e-5)


def test_min_heads_per_layer_is_kept_and_reported(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    importance = taylor_importance(model, tokenizer, TEXTS, LABELS, batches=1, batch_size=8, max_length=16)
    importance.heads[0] = torch.zeros(4)  # the ranking wants every head of layer 0 gone
    report = prune_model(model, importance, head_fraction=0.4, ffn_fraction=0.1, min_heads_per_layer=1)
    assert report.heads_per_layer_after[0] == 1
    assert 0 in report.layers_clamped_to_min_heads


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ["prune.method=importance", "prune.target_sparsity=0"],
            "prune.target_sparsity must be in (0, 1), got 0",
        ),
        (
            ["prune.method=block_movement", "prune.target_sparsity=1.0"],
            "prune.target_sparsity must be in [0, 1), got 1.0",
        ),
        (["prune.method=block_movement", "prune.ffn_sparsity=-0.1"], "prune.ffn_sparsity must be in [0, 1)"),
        (
            ["prune.block_movement.block_size=32x32"],
            "prune.block_movement.block_size must be 'head' or a positive integer",
        ),
        (["prune.block_movement.fill=refill"], "prune.block_movement.fill must be 'zero' or 'hybrid-filled'"),
        (
            ["prune.block_movement.warmup_fraction=0.5", "prune.block_movement.cooldown_fraction=0.5"],
            "prune.block_movement.cooldown_fraction plus warmup_fraction",
        ),
        (["prune.block_movement.weight_decay=-1"], "prune.block_movement.weight_decay must be >= 0"),
        (["prune.importance.batches=0"], "prune.importance.batches must be >= 1"),
        (["prune.method=no_such_method"], "prune.method must be one of ("),
    ],
)
def test_prune_config_rejects_bad_settings_with_the_key_path(overrides, message):
    from slimnlp.config import ConfigError, load_config

    with pytest.raises(ConfigError) as err:
        load_config(overrides=overrides)
    assert message in str(err.value)


def test_block_movement_at_zero_sparsity_trains_but_removes_nothing(model_and_tokenizer):
    from slimnlp.config import PruneConfig
    from slimnlp.prune.block_movement import block_movement_prune
    from slimnlp.training.loop import LoopSettings

    model, tokenizer = model_and_tokenizer
    before = models.count_parameters(model)["total"]
    cfg = PruneConfig(method="block_movement", target_sparsity=0.0)
    settings = LoopSettings(epochs=1, batch_size=8, learning_rate=1e-3, max_length=16)
    report = block_movement_prune(
        model, tokenizer, (TEXTS, LABELS), (TEXTS, LABELS), cfg, settings, progress=False
    )
    assert report.heads_removed == 0 and report.neurons_removed == 0
    assert report.structural_sparsity == 0 and report.weight_sparsity == 0
    assert models.count_parameters(model)["total"] == before == report.params_after["total"]


def test_prune_step_with_block_movement_writes_a_smaller_model_dir_that_reloads(tmp_path):
    """The step as the CLI and KFP run it: shipped sample, a tiny teacher, KD, MLflow on SQLite."""
    import json

    import mlflow

    from slimnlp import steps
    from slimnlp.mlops import tracking
    from tests.helpers_models import tiny_step_config

    cfg = tiny_step_config(
        tmp_path,
        "prune.method=block_movement",
        "prune.target_sparsity=0.25",
        "prune.block_movement.epochs=2",
        "prune.block_movement.batch_size=16",
        "prune.block_movement.cooldown_fraction=0.5",
    )
    data, teacher, pruned = tmp_path / "data", tmp_path / "teacher", tmp_path / "pruned"
    with tracking.parent_run(cfg) as parent:
        steps.prepare_data(cfg, data, parent_run_id=parent)
        steps.train_teacher(cfg, data, teacher, parent_run_id=parent)
        metrics = steps.prune(cfg, data, teacher, pruned, parent_run_id=parent)
    assert metrics["head_sparsity"] == 0.25 and metrics["ffn_sparsity"] == 0.25
    assert abs(metrics["structural_sparsity"] - 0.25) <= 0.02
    assert sum(metrics["heads_per_layer_after"]) == 6 and sum(metrics["neurons_per_layer_after"]) == 96
    assert metrics["best_epoch"] == 2  # epoch 1 is still above the target density: never restored
    model, tokenizer = models.load_model_dir(pruned)
    assert models.model_layout(model)["heads_per_layer"] == metrics["heads_per_layer_after"]
    assert json.loads((pruned / "metrics.json").read_text())["params_after"] == metrics["params_total"]
    client = mlflow.MlflowClient(cfg.tracking.tracking_uri)
    (prune_run,) = client.search_runs(
        [client.get_run(parent).info.experiment_id], "tags.`slimnlp.step` = 'prune'"
    )
    assert prune_run.data.metrics["structural_sparsity"] == pytest.approx(metrics["structural_sparsity"])
