"""prune.nas on tiny models: ordering, masked = sliced, the sandwich step, the search space and front.

The latency table and the selection rules are in test_nas_latency.py and test_nas_select.py.
"""

from __future__ import annotations

import copy
import random

import optuna
import pytest
import torch

from slimnlp import models
from slimnlp.config import ConfigError, NasConfig, load_config
from slimnlp.prune.importance import taylor_importance
from slimnlp.prune.nas.search import Candidate, pareto_front
from slimnlp.prune.nas.space import SearchSpace, SubNetwork
from slimnlp.prune.nas.supernet import active, order_by_importance, slice_subnetwork
from slimnlp.prune.nas.training import sandwich_archs, sandwich_gradients
from slimnlp.training.batches import collate, encode, pad_id_of, predict_logits
from slimnlp.training.losses import combined_loss
from tests.helpers_models import TINY_LABELS, TINY_TEXTS, build_tiny_model_dir

MAX_LENGTH = 32


@pytest.fixture(scope="module")
def teacher_dir(tmp_path_factory):
    return build_tiny_model_dir(tmp_path_factory.mktemp("nas") / "teacher")


@pytest.fixture()
def ordered(teacher_dir):
    """The tiny teacher with its heads and neurons in importance order, and the untouched teacher."""
    model, tokenizer = models.load_model_dir(teacher_dir)
    teacher, _ = models.load_model_dir(teacher_dir)
    importance = taylor_importance(
        model, tokenizer, TINY_TEXTS, TINY_LABELS, batches=2, batch_size=8, max_length=MAX_LENGTH
    )
    order = order_by_importance(model, importance)
    return model.eval(), tokenizer, teacher.eval(), order, importance


def _space(preset="large", **fields) -> SearchSpace:
    return SearchSpace.of_model(2, 4, 64, NasConfig(space=preset, ffn_step=16, **fields), min_heads=1)


ARCHS = ["4x64|4x64", "2x32|4x64", "1x16|3x48", "-|2x32", "3x64|-"]


# --------------------------------------------------------------------------------------------------
# Ordering, masking, slicing


def test_ordering_keeps_the_function_and_sorts_units_by_importance(ordered):
    model, tokenizer, teacher, order, importance = ordered
    torch.testing.assert_close(
        predict_logits(model, tokenizer, TINY_TEXTS, MAX_LENGTH),
        predict_logits(teacher, tokenizer, TINY_TEXTS, MAX_LENGTH),
        atol=1e-5,
        rtol=0,
    )
    for layer, scores in enumerate(importance.heads):
        ranked = scores[order.heads[layer]]
        assert torch.all(ranked[:-1] >= ranked[1:]), "heads are not in descending importance"
        assert sorted(order.heads[layer]) == [0, 1, 2, 3]
    assert order.kept_heads(SubNetwork.from_key("2x32|-")) == [sorted(order.heads[0][:2])]


@pytest.mark.parametrize("key", ARCHS)
def test_a_sliced_subnetwork_gives_the_masked_supernetwork_logits(ordered, key):
    model, tokenizer, _, _, _ = ordered
    arch = SubNetwork.from_key(key)
    with active(model, arch):
        masked = predict_logits(model, tokenizer, TINY_TEXTS, MAX_LENGTH)
    sliced = slice_subnetwork(copy.deepcopy(model), arch)
    assert models.model_layout(sliced)["heads_per_layer"] == [h for h, _ in arch.layers if h]
    assert models.model_layout(sliced)["intermediate_sizes"] == [u for h, u in arch.layers if h]
    torch.testing.assert_close(
        predict_logits(sliced, tokenizer, TINY_TEXTS, MAX_LENGTH), masked, atol=1e-5, rtol=0
    )
    # ... and the masks are gone afterwards: the super-network is whole again.
    full = predict_logits(model, tokenizer, TINY_TEXTS, MAX_LENGTH)
    if key != "4x64|4x64":
        assert (full - masked).abs().max() > 1e-3, "the mask changed nothing: the test would prove nothing"


def test_a_sliced_subnetwork_saves_and_reloads_with_dropped_layers(ordered, tmp_path):
    model, tokenizer, _, _, _ = ordered
    sliced = slice_subnetwork(copy.deepcopy(model), SubNetwork.from_key("-|2x32"))
    saved = models.save_model_dir(sliced, tokenizer, tmp_path / "student")
    reloaded, _ = models.load_model_dir(saved)
    assert reloaded.config.num_hidden_layers == 1
    torch.testing.assert_close(
        predict_logits(reloaded, tokenizer, TINY_TEXTS, MAX_LENGTH),
        predict_logits(sliced, tokenizer, TINY_TEXTS, MAX_LENGTH),
        atol=1e-6,
        rtol=0,
    )


# --------------------------------------------------------------------------------------------------
# The sandwich rule


def _batch(tokenizer):
    ids = encode(tokenizer, TINY_TEXTS[:8], MAX_LENGTH)
    return collate(ids, pad_id_of(tokenizer), "cpu"), torch.tensor(TINY_LABELS[:8])


def _grads(model) -> dict[str, torch.Tensor]:
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def _ffn_rows(model, arch: SubNetwork) -> list[torch.Tensor]:
    """The FFN input rows each kept layer of `arch` uses (its own weights)."""
    layers = models.encoder_layers(model)
    return [
        models.layer_modules(layers[i]).ffn_in.weight[: arch.layers[i][1]].detach().clone()
        for i in arch.kept_layers
    ]


def test_a_sandwich_step_trains_every_sampled_subnetwork(ordered):
    model, tokenizer, _, _, _ = ordered
    section = NasConfig(ffn_step=16, random_subnets=2, alpha=0.5)
    space = _space()
    archs = sandwich_archs(space, random.Random(3), section.random_subnets)
    assert archs[0] == space.largest() and archs[1] == space.smallest() and len(archs) == 4
    batch, labels = _batch(tokenizer)
    model.eval()  # no dropout, so that each sub-network's gradient can be recomputed alone below
    model.zero_grad()
    step = sandwich_gradients(model, batch, labels, archs, section)
    total = _grads(model)
    assert step.archs == archs and len(step.losses) == 4 and all(loss > 0 for loss in step.losses)

    # The step's gradient is the sum of every sub-network's own gradient (the others distilled from
    # the largest's logits), and each one's gradient reaches every FFN row it keeps.
    with torch.no_grad(), active(model, archs[0]):
        source = model(**batch).logits
    names = {id(p): n for n, p in model.named_parameters()}
    layers = models.encoder_layers(model)
    expected: dict[str, torch.Tensor] = {}
    for i, arch in enumerate(archs):
        model.zero_grad()
        with active(model, arch):
            logits = model(**batch).logits
        combined_loss(
            logits, labels, None if i == 0 else source, section.alpha, section.temperature
        ).backward()
        own = _grads(model)
        for j in arch.kept_layers:
            rows = own[names[id(models.layer_modules(layers[j]).ffn_in.weight)]][: arch.layers[j][1]]
            assert torch.all(rows.abs().sum(1) > 0), f"{arch.key}: layer {j} got no gradient"
        for name, grad in own.items():
            expected[name] = expected.get(name, 0) + grad
    assert total.keys() == expected.keys()
    for name, grad in total.items():
        torch.testing.assert_close(grad, expected[name], atol=1e-5, rtol=1e-4)

    # One optimizer step then moves the weights of every sampled sub-network.
    before = [_ffn_rows(model, arch) for arch in archs]
    for name, param in model.named_parameters():
        param.grad = total.get(name)
    torch.optim.SGD(model.parameters(), lr=0.1).step()
    for arch, rows in zip(archs, before, strict=True):
        after = _ffn_rows(model, arch)
        assert all(not torch.equal(a, b) for a, b in zip(after, rows, strict=True)), arch.key


def test_the_smaller_subnetworks_learn_from_the_largest_in_place(ordered):
    """With alpha 1 the small sub-networks' loss is pure KD from the largest: zero gradient when
    they already agree with it (the largest itself)."""
    model, tokenizer, _, _, _ = ordered
    section = NasConfig(ffn_step=16, alpha=1.0)
    batch, labels = _batch(tokenizer)
    model.eval()
    largest = _space().largest()
    step = sandwich_gradients(model, batch, labels, [largest, largest], section)
    assert step.losses[1] == pytest.approx(0.0, abs=1e-6)


# --------------------------------------------------------------------------------------------------
# The search space and the front


@pytest.mark.parametrize(
    ("preset", "largest", "smallest", "size"),
    [
        ("small", "4x64|4x64", "1x16|1x16", 16),
        ("medium", "4x64|4x64", "1x16|1x16", 256),
        ("layer", "4x64|4x64", "-|4x64", 4),
        ("large", "4x64|4x64", "-|1x16", 289),
    ],
)
def test_presets(preset, largest, smallest, size):
    space = _space(preset)
    assert space.head_choices == (1, 2, 3, 4) and space.unit_choices == (16, 32, 48, 64)
    assert space.largest().key == largest and space.smallest().key == smallest
    assert space.size() == size
    study = optuna.create_study(directions=["maximize", "minimize"])
    for arch in (space.largest(), space.smallest()):
        study.enqueue_trial(space.params_of(arch))
        assert space.suggest(study.ask()) == arch  # the parameters give the arch back
    rng = random.Random(0)
    for _ in range(20):
        arch = space.sample(rng)
        assert len(arch.kept_layers) >= 1 and SubNetwork.from_key(arch.key) == arch
        if preset in ("small", "medium"):
            assert arch.kept_layers == [0, 1]
        if preset == "small":
            assert arch.layers[0] == arch.layers[1]


def test_space_floors_come_from_the_config():
    space = SearchSpace.of_model(
        4, 4, 1024, NasConfig(ffn_step=256, min_ffn_units=128, min_heads=2, min_layers=2), 1
    )
    assert space.head_choices == (2, 3, 4)
    assert space.unit_choices == (128, 256, 512, 768, 1024)
    assert space.smallest().key == "-|-|2x128|2x128"


def test_pareto_front_keeps_the_non_dominated_points_fastest_first():
    def c(key, acc, ms, params=1):
        return Candidate(SubNetwork.from_key(key), acc, ms, params)

    points = [
        c("1x16|1x16", 0.50, 1.0),
        c("2x16|1x16", 0.60, 2.0),
        c("2x32|1x16", 0.55, 2.5),  # slower and worse than the one before: dominated
        c("4x64|4x64", 0.90, 5.0),
        c("4x64|3x64", 0.90, 5.0, params=0),  # as good, as fast, fewer parameters: kept instead
        c("3x64|4x64", 0.80, 6.0),
    ]
    front = pareto_front(points)
    assert [p.arch.key for p in front] == ["1x16|1x16", "2x16|1x16", "4x64|3x64"]


def test_most_accurate_under_needs_exactly_one_target():
    with pytest.raises(ConfigError, match="prune.nas.select most_accurate_under needs exactly one target"):
        load_config(overrides=["prune.method=nas", "prune.nas.select=most_accurate_under"])
    with pytest.raises(ConfigError, match=r"prune.nas.space must be one of"):
        load_config(overrides=["prune.method=nas", "prune.nas.space=huge"])
    cfg = load_config(
        overrides=["prune.method=nas", "prune.nas.select=most_accurate_under", "prune.nas.min_speedup=3"]
    )
    assert cfg.prune.nas.min_speedup == 3
