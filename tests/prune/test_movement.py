"""Block movement pruning: exact scheduled densities, straight-through scores, real removal."""

import pytest
import torch

from slimnlp import models
from slimnlp.config import BlockMovementConfig, PruneConfig
from slimnlp.prune.block_movement import block_movement_prune
from slimnlp.prune.block_movement.masks import (
    ATTENTION,
    FFN,
    CubicSchedule,
    attach_masks,
    masked_linears,
    schedule_steps,
)
from slimnlp.prune.block_movement.removal import finalize
from slimnlp.training.batches import predict_logits
from slimnlp.training.loop import LoopSettings
from tests.helpers_models import TINY_ID2LABEL, TINY_LABELS, TINY_TEXTS, tiny_tokenizer


def tiny_model(num_layers=2, heads=4, hidden=32, ffn=64, seed=0):
    tokenizer = tiny_tokenizer()
    torch.manual_seed(seed)
    model = models.build_bert(
        tokenizer.vocab_size,
        3,
        TINY_ID2LABEL,
        num_layers=num_layers,
        hidden_size=hidden,
        num_heads=heads,
        intermediate_size=ffn,
        max_length=32,
        dropout=0.0,
        pad_token_id=tokenizer.pad_token_id,
    )
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn_like(param) * 0.3)
    return model.eval(), tokenizer


def settings(epochs=4, **kw):
    base = dict(epochs=epochs, batch_size=8, learning_rate=1e-3, patience=10, max_length=32, warmup_ratio=0.0)
    return LoopSettings(**{**base, **kw})


def test_cubic_schedule_endpoints_and_monotone():
    schedule = CubicSchedule.over(100, 0.25, 0.1, 0.3)
    assert (schedule.start, schedule.end) == (10, 70)
    values = [schedule(step) for step in range(101)]
    assert values[0] == values[10] == 1.0 and values[70] == values[100] == 0.25
    assert all(a >= b for a, b in zip(values, values[1:], strict=False))
    assert values[40] == pytest.approx(0.25 + 0.75 * 0.5**3)


@pytest.mark.parametrize("block_size", ["head", "8"])
def test_masks_reach_the_exact_scheduled_density_at_every_step(block_size, monkeypatch):
    import slimnlp.prune.block_movement.masks as movement

    model, tokenizer = tiny_model()
    prune_cfg = PruneConfig(
        method="block_movement",
        target_sparsity=0.5,
        block_movement=BlockMovementConfig(block_size=block_size),
    )
    controllers, seen = [], []

    def keep_controller(*args, **kwargs):
        controllers.append(attach_masks(*args, **kwargs))
        return controllers[-1]

    monkeypatch.setattr(movement, "attach_masks", keep_controller)

    def record(module, args):  # before every forward pass: training steps and dev evaluations
        for group in (ATTENTION, FFN):
            kept, total = controllers[0].kept_count(group)
            seen.append(
                (group, controllers[0].kept[group], controllers[0].density(group), kept / total, total)
            )

    model.bert.embeddings.register_forward_pre_hook(record)
    train = (TINY_TEXTS, TINY_LABELS)
    report = block_movement_prune(
        model, tokenizer, train, train, prune_cfg, settings(epochs=4), progress=False
    )
    assert seen, "the forward hook never ran"
    for _group, fraction, density, expected, total in seen:
        # Exactly round(fraction * units) units are kept, at every step and every evaluation.
        assert density == pytest.approx(expected, abs=1e-9)
        assert expected == pytest.approx(max(round(fraction * total), 2) / total)
    assert min(f for _, f, *_ in seen) == pytest.approx(0.5)
    assert max(f for _, f, *_ in seen) == 1.0
    assert report.extras["ffn_neuron_density"] == pytest.approx(0.5) and report.ffn_sparsity == pytest.approx(
        0.5
    )
    assert report.extras["attention_block_density"] == pytest.approx(0.5)
    assert abs(report.weight_sparsity - 0.5) <= 0.02
    if block_size == "head":
        assert report.head_sparsity == pytest.approx(0.5)
        assert abs(report.structural_sparsity - 0.5) <= 0.02
    assert not masked_linears(model)


def test_scores_get_straight_through_gradients_and_masks_apply():
    model, tokenizer = tiny_model()
    controller = attach_masks(model, "head")
    controller.kept[ATTENTION] = 0.5
    controller.kept[FFN] = 0.25
    batch = tokenizer(TINY_TEXTS[:6], return_tensors="pt", padding=True)
    model(**batch).logits.sum().backward()
    assert all(t.scores.grad is not None and t.scores.grad.abs().sum() > 0 for t in controller.tensors)
    query = models.layer_modules(models.encoder_layers(model)[0]).query
    zero_rows = (query.weight == 0).all(dim=1)
    assert int(zero_rows.sum()) in (0, 8, 16, 24)  # whole heads (head_dim 8) are masked or not
    assert controller.density(ATTENTION) == 0.5 and controller.density(FFN) == 0.25


def test_removed_heads_and_neurons_are_gone_and_the_model_reloads_bit_exactly(tmp_path):
    model, tokenizer = tiny_model()
    controller = attach_masks(model, "8")
    with torch.no_grad():  # make layer 1's head 2 the least useful in O, and some neurons too
        for t in controller.tensors:
            t.scores.copy_(torch.rand_like(t.scores) + 1)
        o_scores = controller.tensors[3].scores  # layer 0: query, key, value, output, then ffn
        o_scores[:, 1] = -5  # head 1 of layer 0 (columns 8..15) masked in O
    controller.kept[ATTENTION] = 0.75
    controller.kept[FFN] = 0.5
    with torch.no_grad():
        masked = predict_logits(model, tokenizer, TINY_TEXTS, 32)
    report = finalize(model, controller, "zero", min_heads_per_layer=1)
    layer0 = models.layer_modules(models.encoder_layers(model)[0])
    assert 1 not in report.kept_heads[0]
    assert layer0.query.out_features == 8 * report.heads_per_layer_after[0] < 32
    # Neurons compete across layers: half of all 128 stay, however they fall per layer.
    assert sum(report.neurons_per_layer_after) == 64
    assert layer0.ffn_in.out_features == report.neurons_per_layer_after[0]
    assert report.weight_sparsity > report.structural_sparsity > 0
    with torch.no_grad():
        pruned = predict_logits(model, tokenizer, TINY_TEXTS, 32)
    torch.testing.assert_close(pruned, masked, atol=1e-5, rtol=1e-5)  # removal is exact
    models.save_model_dir(model, tokenizer, tmp_path / "m")
    reloaded, _ = models.load_model_dir(tmp_path / "m")
    before, after = model.state_dict(), reloaded.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert models.model_layout(reloaded)["intermediate_sizes"] == report.neurons_per_layer_after
    assert torch.equal(predict_logits(reloaded, tokenizer, TINY_TEXTS, 32), pruned)


def test_a_target_that_removes_every_head_keeps_the_floor_and_says_so(caplog):
    model, tokenizer = tiny_model()
    controller = attach_masks(model, "head", min_heads_per_layer=2)
    with torch.no_grad():
        controller.tensors[0].scores.copy_(torch.tensor([-1.0, -2.0, -3.0, -4.0]))  # layer 0 loses
        controller.tensors[2].scores.copy_(torch.tensor([4.0, 5.0, 6.0, 7.0]))
    controller.kept[ATTENTION] = 0.5
    report = finalize(model, controller, "zero", min_heads_per_layer=2)
    assert report.heads_per_layer_after == [2, 2]
    assert report.kept_heads[0] == [0, 1]
    assert report.layers_clamped_to_min_heads == [0]
    assert "min_heads_per_layer" in caplog.text


def test_unknown_model_type_names_the_supported_ones():
    from transformers import DistilBertConfig, DistilBertForSequenceClassification

    model = DistilBertForSequenceClassification(
        DistilBertConfig(vocab_size=50, dim=16, n_layers=1, n_heads=2, hidden_dim=32, num_labels=2)
    )
    with pytest.raises(ValueError, match="distilbert.*supported: bert, roberta"):
        attach_masks(model)


def test_block_size_must_divide_the_weights():
    model, _ = tiny_model()
    with pytest.raises(ValueError, match="block_size=5"):
        attach_masks(model, "5")


def test_schedule_steps_first_eligible_epoch_is_at_the_target():
    schedule, total, first = schedule_steps(80, 8, 10, 0.1, 0.3, 0.25)
    # Epoch 7 runs steps 60..69, the last still above the target; epoch 8 is all at the target.
    assert total == 100 and schedule.end == 70 and first == 8
    assert schedule(69) > 0.25 and schedule(70) == 0.25


def test_hybrid_filled_keeps_weights_and_redistils():
    model, tokenizer = tiny_model()
    train = (TINY_TEXTS, TINY_LABELS)
    cfg = PruneConfig(
        method="block_movement",
        target_sparsity=0.25,
        block_movement=BlockMovementConfig(block_size="8", fill="hybrid-filled", refill_epochs=1),
    )
    report = block_movement_prune(model, tokenizer, train, train, cfg, settings(epochs=2), progress=False)
    assert report.extras["refill"]["epochs_run"] == 1
    assert report.weight_sparsity == pytest.approx(report.structural_sparsity)


def test_kd_loss_is_zero_when_the_masked_student_equals_the_teacher():
    from slimnlp.training.losses import kd_loss

    teacher, tokenizer = tiny_model()
    student, _ = tiny_model()  # same seed: the same weights
    controller = attach_masks(student, "head")  # kept fraction 1.0: the mask changes nothing
    assert controller.density(ATTENTION) == 1.0
    batch = tokenizer(TINY_TEXTS, return_tensors="pt", padding=True)
    with torch.no_grad():
        t_logits, s_logits = teacher(**batch).logits, student(**batch).logits
    assert kd_loss(s_logits, t_logits, 2.0).item() == pytest.approx(0.0, abs=1e-6)
    controller.kept[ATTENTION] = 0.5
    with torch.no_grad():
        assert kd_loss(student(**batch).logits, t_logits, 2.0).item() > 1e-4
