"""One-shot pruners on a tiny model: exact sparsity, N:M patterns, reconstruction error, structured
removal with refit, padding-free statistics, wall time printed."""

from __future__ import annotations

import pytest
import torch

from slimnlp import models
from slimnlp.config import ExportConfig, config_from_dict
from slimnlp.prune import PruneContext, get_pruner
from slimnlp.prune.oneshot import load_calibration
from slimnlp.prune.oneshot.capture import input_statistics
from slimnlp.prune.oneshot.masks import n_m_mask, row_mask
from slimnlp.prune.oneshot.unstructured import layer_linears, prune_weight
from slimnlp.training.batches import collate, encode, pad_id_of, predict_logits
from tests.helpers_models import TINY_LABELS, TINY_TEXTS, build_tiny_model_dir

MAX_LENGTH = 32


@pytest.fixture(scope="module")
def teacher_dir(tmp_path_factory):
    return build_tiny_model_dir(tmp_path_factory.mktemp("oneshot") / "teacher")


def _prune(teacher_dir, method: str, sparsity: float = 0.5, section=None, out_dir=None, **shared):
    config = config_from_dict(
        {
            "prune": {
                "method": method,
                "target_sparsity": sparsity,
                method: section or {},
                "calibration": {"samples": 24, "batch_size": 8},
                **shared,
            }
        }
    ).prune
    model, tokenizer = models.load_model_dir(teacher_dir)
    context = PruneContext(config=config, max_length=MAX_LENGTH, seed=13, progress=False, out_dir=out_dir)
    data = (TINY_TEXTS, TINY_LABELS)
    return model, tokenizer, get_pruner(method).prune(model, tokenizer, data, data, context)


def _linears(model):
    return [
        (f"layer{i}.{name}", linear)
        for i, layer in enumerate(models.encoder_layers(model))
        for name, linear in layer_linears(layer).items()
    ]


# --------------------------------------------------------------------------------------------------
# Unstructured and N:M


@pytest.mark.parametrize("method", ["magnitude", "wanda", "sparsegpt"])
@pytest.mark.parametrize("sparsity", [0.5, 0.7])
def test_every_row_loses_exactly_the_target_fraction(teacher_dir, method, sparsity, capsys):
    model, _, report = _prune(teacher_dir, method, sparsity)
    for name, linear in _linears(model):
        zeros = (linear.weight == 0).sum(1)
        expected = round(sparsity * linear.in_features)
        assert torch.all(zeros == expected), f"{method} {name}: zeros per row {zeros.tolist()}"
    assert report.weight_sparsity == pytest.approx(sparsity, abs=1 / 64)
    assert report.structural_sparsity == 0 and report.heads_removed == 0
    assert report.extras["prune_seconds"] > 0
    assert f"one-shot prune ({method}):" in capsys.readouterr().out


@pytest.mark.parametrize("method", ["magnitude", "wanda", "sparsegpt"])
@pytest.mark.parametrize(("pattern", "kept", "group"), [("2:4", 2, 4), ("4:8", 4, 8)])
def test_every_n_m_group_holds_the_pattern(teacher_dir, method, pattern, kept, group):
    # target_sparsity is ignored under N:M: the pattern fixes it at (M - N) / M.
    model, _, report = _prune(teacher_dir, method, 0.3, {"pattern": pattern})
    for name, linear in _linears(model):
        groups = (linear.weight != 0).reshape(linear.out_features, -1, group).sum(2)
        assert torch.all(groups == kept), f"{method} {pattern} {name}: nonzeros per group {groups.unique()}"
    assert report.weight_sparsity == pytest.approx((group - kept) / group)
    assert report.extras["pattern"] == pattern


def test_masks_choose_the_lowest_scores():
    scores = torch.tensor([[4.0, 1.0, 3.0, 2.0, 8.0, 5.0, 7.0, 6.0]])
    assert row_mask(scores, 0.5).tolist() == [[True, True, True, True, False, False, False, False]]
    assert n_m_mask(scores, 2, 4).tolist() == [[False, True, False, True, False, True, False, True]]


def test_a_layer_that_cannot_hold_the_pattern_is_named(teacher_dir):
    with pytest.raises(ValueError, match=r"layer 0 query has 32 inputs, not a multiple of 3"):
        _prune(teacher_dir, "wanda", 0.5, {"pattern": "1:3"})


@pytest.mark.parametrize("pattern", ["unstructured", "2:4"])
def test_reconstruction_error_sparsegpt_lowest_magnitude_highest(teacher_dir, pattern):
    """On the calibration inputs of every layer of the tiny model: ||X W^T - X W'^T||^2 summed."""
    config = config_from_dict({"prune": {"method": "sparsegpt", "sparsegpt": {"pattern": pattern}}}).prune
    model, tokenizer = models.load_model_dir(teacher_dir)
    calibration = load_calibration(config.calibration, TINY_TEXTS, tokenizer, seed=0, max_length=MAX_LENGTH)
    totals = dict.fromkeys(("magnitude", "wanda", "sparsegpt"), 0.0)
    for layer in models.encoder_layers(model):
        linears = layer_linears(layer)
        stats = input_statistics(model, linears, calibration.batches, hessian=True)
        for name, linear in linears.items():
            weight, hessian = linear.weight.data, stats[name].hessian
            for method in totals:
                pruned, _ = prune_weight(method, weight, stats[name], 0.5, config.section)
                delta = (weight - pruned).double()
                totals[method] += float(torch.einsum("ij,jk,ik->", delta, hessian, delta))
    assert totals["sparsegpt"] < totals["wanda"] < totals["magnitude"], totals


def test_padding_does_not_change_the_statistics(teacher_dir):
    model, tokenizer = models.load_model_dir(teacher_dir)
    ids = encode(tokenizer, TINY_TEXTS, MAX_LENGTH)
    tight = [collate([x], pad_id_of(tokenizer), "cpu") for x in ids]  # one text a batch: no padding
    padded = [collate(ids[i : i + 12], pad_id_of(tokenizer), "cpu") for i in (0, 12)]
    extra = torch.full((12, 9), pad_id_of(tokenizer))  # ... and 9 more padding columns
    padded = [
        {
            "input_ids": torch.cat([b["input_ids"], extra], 1),
            "attention_mask": torch.cat([b["attention_mask"], extra * 0], 1),
        }
        for b in padded
    ]
    linears = layer_linears(models.encoder_layers(model)[1])
    a = input_statistics(model, linears, tight, hessian=True)
    b = input_statistics(model, linears, padded, hessian=True)
    for name in linears:
        assert a[name].tokens == b[name].tokens == sum(map(len, ids))
        scale = float(a[name].hessian.abs().max())  # float32 forward passes of other batch shapes
        torch.testing.assert_close(a[name].squares, b[name].squares, rtol=1e-4, atol=1e-5 * scale)
        torch.testing.assert_close(a[name].hessian, b[name].hessian, rtol=1e-4, atol=1e-5 * scale)


# --------------------------------------------------------------------------------------------------
# Structured one-shot


# fisher (needs labels and gradients) in the slow suite; activation keeps the path in `make test`
@pytest.mark.parametrize("score", [pytest.param("fisher", marks=pytest.mark.slow), "activation"])
def test_structured_oneshot_meets_the_flops_target_reloads_and_exports(teacher_dir, tmp_path, score):
    model, tokenizer, report = _prune(
        teacher_dir, "structured_oneshot", 0.4, {"score": score}, out_dir=tmp_path / "pruned"
    )
    neuron_share = 2 * 48 * 32 * 2 / (8 * (2 * 48 * 32 * 8 * 4 + 2 * 48 * 48 * 8 * 2) + 128 * 2 * 48 * 32 * 2)
    assert 0.4 <= report.extras["flops_reduction"] < 0.4 + neuron_share
    assert report.structural_sparsity > 0.3 and report.params_after["total"] < report.params_before["total"]
    # The least-squares refit brings each output projection closer to the unpruned layer's output.
    assert report.extras["output_error_after_refit"] < report.extras["output_error_before_refit"]
    saved = models.save_model_dir(model, tokenizer, tmp_path / "pruned")
    assert (saved / "prune_artifacts" / "structured_oneshot.json").is_file()
    reloaded, reloaded_tokenizer = models.load_model_dir(saved)
    assert models.model_layout(reloaded) == report.layout
    torch.testing.assert_close(
        predict_logits(reloaded, reloaded_tokenizer, TINY_TEXTS, MAX_LENGTH),
        predict_logits(model, tokenizer, TINY_TEXTS, MAX_LENGTH),
    )
    from slimnlp.export.onnx import export_onnx_model

    export = ExportConfig(quantize_int8=False, parity_samples=8)
    exported = export_onnx_model(saved, tmp_path / "onnx", TINY_TEXTS, export, TINY_LABELS, MAX_LENGTH)
    assert exported["max_abs_diff"] <= export.atol


def test_refit_keeps_the_pruned_model_closer_to_the_teacher(teacher_dir):
    teacher, tokenizer = models.load_model_dir(teacher_dir)
    reference = predict_logits(teacher, tokenizer, TINY_TEXTS, MAX_LENGTH)
    distance = {}
    for refit in (False, True):
        model, _, _ = _prune(teacher_dir, "structured_oneshot", 0.3, {"reconstruct": refit})
        distance[refit] = float(
            (predict_logits(model, tokenizer, TINY_TEXTS, MAX_LENGTH) - reference).pow(2).mean()
        )
    assert distance[True] < distance[False], distance


def test_zeroed_weights_keep_the_dense_size_and_compress_smaller(teacher_dir, tmp_path):
    from slimnlp.benchmark.sparse_size import compressed_size

    model, tokenizer, _ = _prune(teacher_dir, "wanda", 0.7)
    pruned = compressed_size(models.save_model_dir(model, tokenizer, tmp_path / "pruned"))
    dense = compressed_size(teacher_dir)
    assert pruned["size_bytes"] == dense["size_bytes"]  # same tensors, same bytes
    # The encoder matrices are part of the file (embeddings are not pruned): still clearly smaller.
    assert pruned["zstd_bytes"] < 0.9 * dense["zstd_bytes"]
    with pytest.raises(FileNotFoundError, match="holds no model.safetensors"):
        compressed_size(tmp_path)


def test_recovery_training_keeps_the_zeros(teacher_dir):
    from slimnlp.prune.oneshot.recovery import zero_count, zeros_kept
    from slimnlp.training.loop import LoopSettings, train_classifier

    model, tokenizer, _ = _prune(teacher_dir, "sparsegpt", 0.5, {"pattern": "2:4"})
    zeros, before = zero_count(model), [p.detach().clone() for p in model.parameters()]
    settings = LoopSettings(epochs=1, batch_size=8, learning_rate=1e-2, max_length=MAX_LENGTH)
    data = (TINY_TEXTS, TINY_LABELS)
    with zeros_kept(model) as frozen:
        train_classifier(model, tokenizer, data, data, settings, progress=False, device="cpu")
    assert frozen == zeros and zero_count(model) == zeros  # the 2:4 pattern survived training
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    # Without the hook the same training fills the zeros back in.
    train_classifier(model, tokenizer, data, data, settings, progress=False, device="cpu")
    assert zero_count(model) < zeros
