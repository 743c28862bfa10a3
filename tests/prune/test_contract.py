"""The contract every registered pruner keeps, on a tiny model (seconds per method).

What the report says is what the model has (heads, neurons, weights, parameters, layout); the saved
directory reloads to the same logits; the ONNX export passes its parity check. A new method is
covered by registering it: add its fast settings to FAST only if its defaults are slow.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from slimnlp import models
from slimnlp.config import (
    PRUNE_METHODS,
    ConfigError,
    ExportConfig,
    PruneConfig,
    config_from_dict,
    load_config,
)
from slimnlp.prune import PruneContext, PruneReport, get_pruner, prune_method, prune_methods
from slimnlp.training.batches import predict_logits
from slimnlp.training.loop import LoopSettings
from tests.helpers_models import TINY_LABELS, TINY_TEXTS, build_tiny_model_dir
from tests.models.test_remote_code import assert_loads_in_transformers

MAX_LENGTH = 32
TARGET = 0.5  # of 8 heads and 128 FFN neurons: exact counts for every method

# Per-method settings that keep the contract test fast (a method's own section, prune.<name>).
FAST = {
    "importance": {"batches": 2, "batch_size": 8},
    "block_movement": {"epochs": 2, "batch_size": 8, "warmup_fraction": 0.0, "cooldown_fraction": 0.5},
    "structured_oneshot": {"budget": "units"},  # exact head and neuron counts (the default counts FLOPs)
    # The smallest sub-network of {2, 3, 4} heads x {32, 64} units per layer is exactly TARGET.
    "nas": {
        "space": "medium",
        "ffn_step": 32,
        "min_heads": 2,
        "select": "smallest_within",
        "max_accuracy_drop": 1.0,
        "steps": 2,
        "batch_size": 8,
        "eval_every": 2,
        "importance_batches": 1,
        "latency_runtime": "pytorch",
        "latency_rounds": 1,
        "latency_iterations": 2,
        "candidates": 6,
        "population": 4,
        "front_checks": 3,
    },
}

# What the prune step writes to metrics.json and downstream readers (grid rows, headline metrics) use.
METRIC_KEYS = {
    "method",
    "kept_heads",
    "heads_removed",
    "neurons_removed",
    "head_sparsity",
    "ffn_sparsity",
    "structural_sparsity",
    "weight_sparsity",
    "heads_per_layer_before",
    "heads_per_layer_after",
    "neurons_per_layer_before",
    "neurons_per_layer_after",
    "params_before",
    "params_after",
    "non_embedding_params_before",
    "non_embedding_params_after",
    "encoder_param_sparsity",
    "layers_clamped_to_min_heads",
}


def _prunable_weights(model) -> tuple[int, int]:
    """(weights, nonzero weights) of Q/K/V/O and both FFN matrices of every layer, counted here."""
    total = nonzero = 0
    for layer in models.encoder_layers(model):
        m = models.layer_modules(layer)
        for linear in (m.query, m.key, m.value, m.attn_out, m.ffn_in, m.ffn_out):
            total += linear.weight.numel()
            nonzero += int(torch.count_nonzero(linear.weight))
    return total, nonzero


def _context(pruner, config: PruneConfig, teacher, tokenizer) -> PruneContext:
    """The context the prune step builds, for the tiny model (its teacher is an unpruned copy)."""
    trains = prune_method(config.method).trains
    loop = LoopSettings.from_section(config.section, max_length=MAX_LENGTH, seed=13) if trains else None
    wants = pruner.wants_teacher_logits(config)
    logits = predict_logits(teacher, tokenizer, TINY_TEXTS, MAX_LENGTH) if wants else None
    return PruneContext(
        config=config, max_length=MAX_LENGTH, seed=13, loop=loop, teacher_logits=logits, progress=False
    )


@pytest.fixture(scope="module")
def teacher_dir(tmp_path_factory):
    return build_tiny_model_dir(tmp_path_factory.mktemp("contract") / "teacher")


# nas (its whole search, ~30 s on 2 cores) runs in make test-slow; tests/prune/test_nas_select.py runs
# the nas pruner end to end in make test.
@pytest.mark.parametrize(
    "method", [pytest.param(m, marks=pytest.mark.slow) if m == "nas" else m for m in prune_methods()]
)
def test_pruner_contract(method, teacher_dir, tmp_path):
    config = config_from_dict(
        {"prune": {"method": method, "target_sparsity": TARGET, method: FAST.get(method, {})}}
    ).prune
    model, tokenizer = models.load_model_dir(teacher_dir)
    teacher, _ = models.load_model_dir(teacher_dir)
    layout_before = models.model_layout(model)
    params_before = models.count_parameters(model)
    weights_before, _ = _prunable_weights(model)
    pruner = get_pruner(method)
    context = _context(pruner, config, teacher, tokenizer)
    train = dev = (TINY_TEXTS, TINY_LABELS)
    report = pruner.prune(model, tokenizer, train, dev, context)
    model = model.cpu().eval()

    # 1. The report says what the model has: layout, exact sparsity, weights and parameters.
    assert isinstance(report, PruneReport) and report.method == method
    layout = models.model_layout(model)
    assert report.layout == layout
    assert report.heads_per_layer_before == layout_before["heads_per_layer"]
    assert report.neurons_per_layer_before == layout_before["intermediate_sizes"]
    assert report.heads_per_layer_after == layout["heads_per_layer"]
    assert report.neurons_per_layer_after == layout["intermediate_sizes"]
    assert [len(k) for k in report.kept_heads] == layout["heads_per_layer"]
    heads_before, heads_after = sum(layout_before["heads_per_layer"]), sum(layout["heads_per_layer"])
    neurons_before, neurons_after = (
        sum(layout_before["intermediate_sizes"]),
        sum(layout["intermediate_sizes"]),
    )
    weights_after, nonzero = _prunable_weights(model)
    if not prune_method(method).keeps_zeros:
        assert report.head_sparsity == 1 - heads_after / heads_before == TARGET
        assert report.ffn_sparsity == 1 - neurons_after / neurons_before == TARGET
    else:  # zeroes weights (unstructured, N:M): nothing removed, exactly TARGET of the weights zero
        assert layout == layout_before and report.head_sparsity == report.ffn_sparsity == 0
        assert report.structural_sparsity == 0 and 1 - nonzero / weights_before == TARGET
    assert report.structural_sparsity == pytest.approx(1 - weights_after / weights_before, abs=1e-12)
    assert report.weight_sparsity == pytest.approx(1 - nonzero / weights_before, abs=1e-12)
    assert report.params_before == params_before
    assert report.params_after == models.count_parameters(model)
    metrics = report.metrics()
    assert METRIC_KEYS <= metrics.keys()
    assert metrics["heads_removed"] == heads_before - heads_after
    assert metrics["params_after"] == models.count_parameters(model)["total"]
    assert f"{report.heads_per_layer_after}" in report.summary()

    # 2. The saved directory reloads to the same model.
    saved = models.save_model_dir(model, tokenizer, tmp_path / "pruned")
    reloaded, reloaded_tokenizer = models.load_model_dir(saved)
    assert models.model_layout(reloaded) == layout
    torch.testing.assert_close(
        predict_logits(reloaded, reloaded_tokenizer, TINY_TEXTS, MAX_LENGTH),
        predict_logits(model, tokenizer, TINY_TEXTS, MAX_LENGTH),
        atol=1e-6,
        rtol=0,
    )
    # ... and so does plain transformers (trust_remote_code: the saved slimnlp_modeling.py).
    assert_loads_in_transformers(saved)

    # 3. The ONNX export passes its parity check (it raises ExportParityError otherwise).
    from slimnlp.export.onnx import export_onnx_model

    export = ExportConfig(quantize_int8=False, parity_samples=8)
    exported = export_onnx_model(saved, tmp_path / "onnx", TINY_TEXTS, export, TINY_LABELS, MAX_LENGTH)
    assert exported["max_abs_diff"] <= export.atol


# --------------------------------------------------------------------------------------------------
# The registries and the config


def test_every_registered_method_is_a_config_section_with_its_pruner():
    defaults = PruneConfig()
    for name, method in PRUNE_METHODS.items():
        assert method.name == name
        assert isinstance(getattr(defaults, name), method.config), f"PruneConfig has no field {name}"
        folder = method.config.__module__.rpartition(".")[0]  # slimnlp.prune.<method folder>
        assert method.pruner.startswith(f"{folder}."), f"{name}: pruner outside its folder {folder}"
        pruner = get_pruner(name)
        assert callable(pruner.prune) and callable(pruner.wants_teacher_logits), name
    help_text = next(f for f in dataclasses.fields(PruneConfig) if f.name == "method").metadata["help"]
    assert all(f"{name}: {method.summary}" in help_text for name, method in PRUNE_METHODS.items())


def test_the_readme_method_table_lists_every_registered_pruner():
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Pruning methods", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    assert {row.split("`")[1] for row in rows} == set(prune_methods())
    for name in prune_methods():
        assert f"`prune.{name}`" in section, f"the README's method table lacks the section prune.{name}"


def test_every_prune_field_has_help():
    for cls in (PruneConfig, *(method.config for method in PRUNE_METHODS.values())):
        for f in dataclasses.fields(cls):
            assert f.metadata.get("help"), f"{cls.__name__}.{f.name} has no help text"


def test_unknown_method_names_the_registered_ones():
    with pytest.raises(
        ConfigError, match=r"prune.method must be one of \(.*'importance'.*\), got 'no_such_method'"
    ):
        load_config(overrides=["prune.method=no_such_method"])
    with pytest.raises(ValueError, match="registered"):
        get_pruner("no_such_method")


@pytest.mark.parametrize(("old", "new"), sorted(PruneConfig.MOVED_KEYS.items()))
def test_old_flat_keys_fail_at_load_naming_the_new_key(old, new, tmp_path):
    with pytest.raises(ConfigError, match=rf"^prune\.{old} moved to prune\.{new.replace('.', '[.]')};"):
        load_config(overrides=[f"prune.{old}=1"])
    path = tmp_path / "old.yaml"
    path.write_text(f"prune:\n  method: block_movement\n  {old}: 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"prune\.{old} moved to prune\.{new}"):
        load_config(path)


def test_method_dependent_sparsity_checks_live_in_the_method_section():
    assert (
        load_config(overrides=["prune.method=block_movement", "prune.target_sparsity=0"]).prune.head_fraction
        == 0
    )
    with pytest.raises(ConfigError, match=r"prune.target_sparsity must be in \(0, 1\), got 0"):
        load_config(overrides=["prune.method=importance", "prune.target_sparsity=0"])


def test_config_and_method_registry_are_torch_free():
    code = "import sys, slimnlp.config as c; c.prune_methods(); assert 'torch' not in sys.modules, 'torch'"
    subprocess.run([sys.executable, "-c", code], check=True)
