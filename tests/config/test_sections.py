"""The config sections on their shared base: same keys and values as before, every number bounded,
one-field rules declared with the field and reported with the key's full path."""

from __future__ import annotations

import dataclasses
import json

import pytest

from slimnlp.config import (
    ConfigError,
    DistillConfig,
    FinetuneAmpConfig,
    RunConfig,
    TeacherConfig,
    load_config,
)
from slimnlp.config.base import Section, type_hints
from slimnlp.config.training import OptimizerSection, TrainingSection

from .make_fixture import FIXTURE, ROOT, portable, snapshot


def _leaves(values, prefix=""):
    if isinstance(values, dict):
        for key, value in values.items():
            yield from _leaves(value, f"{prefix}{key}.")
    else:
        yield prefix.rstrip("."), values


def _assert_same(before: dict, after: dict, where: str) -> None:
    """Every value the old code produced is still there, unchanged (new keys from later work may be)."""
    now = dict(_leaves(after))
    for key, value in _leaves(before):
        assert key in now, f"{where}: key {key} is gone"
        assert now[key] == value, f"{where}: {key} was {value!r}, is {now[key]!r}"


def test_defaults_are_what_they_were(monkeypatch):
    monkeypatch.delenv("SLIMNLP_DATA_DIR", raising=False)
    before = json.loads(FIXTURE.read_text(encoding="utf-8"))
    _assert_same(before["defaults"], snapshot()["defaults"], "built-in defaults")


def test_every_shipped_config_loads_to_the_values_it_had(monkeypatch):
    monkeypatch.delenv("SLIMNLP_DATA_DIR", raising=False)
    before = json.loads(FIXTURE.read_text(encoding="utf-8"))["files"]
    now = snapshot()["files"]
    assert set(before) <= set(now), f"shipped configs gone: {set(before) - set(now)}"
    same_file = [name for name in before if before[name]["sha256"] == now[name]["sha256"]]
    assert same_file, "every shipped config changed since tests/config/before.json was made"
    for name in same_file:
        _assert_same(before[name]["values"], now[name]["values"], name)


def test_the_fixture_would_catch_a_changed_default(monkeypatch):
    """The comparison above can fail: a default moved by one step is reported with its key."""
    before = json.loads(FIXTURE.read_text(encoding="utf-8"))["defaults"]
    changed = portable(load_config(overrides=["distill.learning_rate=0.0004"]).to_dict())
    with pytest.raises(AssertionError, match="distill.learning_rate was 0.0003, is 0.0004"):
        _assert_same(before, changed, "defaults")
    assert str(ROOT) not in FIXTURE.read_text(encoding="utf-8")  # paths are relative to the checkout


def test_training_sections_share_one_declaration():
    shared = {f.name: f for f in dataclasses.fields(TrainingSection)}
    assert list(shared) == [
        "batch_size",
        "learning_rate",
        "weight_decay",
        "warmup_ratio",
        "epochs",
        "patience",
    ]
    assert [f.name for f in dataclasses.fields(OptimizerSection)] == list(shared)[:4]
    for cls in (TeacherConfig, DistillConfig, FinetuneAmpConfig):
        fields = {f.name: f for f in dataclasses.fields(cls)}
        for name, base in shared.items():
            if (cls, name) == (TeacherConfig, "epochs"):
                continue  # the teacher must train: >= 1, not >= 0
            assert fields[name].metadata["check"] == base.metadata["check"], f"{cls.__name__}.{name}"
    # an override changes the default and keeps the inherited rule and help unless it gives its own
    fields = {f.name: f for f in dataclasses.fields(FinetuneAmpConfig)}
    assert (fields["learning_rate"].default, fields["patience"].default) == (1e-4, 2)
    assert fields["patience"].metadata["help"] == shared["patience"].metadata["help"]
    assert fields["epochs"].metadata["help"].startswith("Maximum epochs (0 skips")
    teacher_epochs = {f.name: f for f in dataclasses.fields(TeacherConfig)}["epochs"]
    assert (teacher_epochs.default, teacher_epochs.metadata["check"].describe()) == (8, ">= 1")


def _sections(cls: type = RunConfig, prefix: str = ""):
    yield prefix, cls
    for item in dataclasses.fields(cls):
        hint = type_hints(cls)[item.name]
        if dataclasses.is_dataclass(hint):
            yield from _sections(hint, f"{prefix}{item.name}.")


def test_every_number_of_a_section_declares_what_it_accepts():
    """The issue's 'every field checked': no int or float key of a Section is unbounded (before,
    teacher.weight_decay and teacher.dropout took any value)."""
    unchecked = []
    sections = list(_sections())
    assert [prefix for prefix, cls in sections if not issubclass(cls, Section)] == []
    for prefix, cls in sections:
        hints = type_hints(cls)
        for item in dataclasses.fields(cls):
            base = [
                a for a in getattr(hints[item.name], "__args__", (hints[item.name],)) if a is not type(None)
            ]
            if base[0] in (int, float) and "check" not in item.metadata:
                unchecked.append(prefix + item.name)
    assert unchecked == []
    assert len(sections) >= 21  # the root, 11 sections, prune's calibration and 7 method sections


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("teacher.learning_rate=-1", "teacher.learning_rate must be > 0, got -1"),
        ("teacher.weight_decay=-0.1", "teacher.weight_decay must be >= 0, got -0.1"),
        ("teacher.dropout=1.0", "teacher.dropout must be in [0, 1), got 1.0"),
        ("teacher.epochs=0", "teacher.epochs must be >= 1, got 0"),
        ("teacher.vocab_transfer=50", "teacher.vocab_transfer must be >= 100 or null, got 50"),
        ("distill.student=wide", "distill.student must be 'pruned' or 'layers', got 'wide'"),
        ("distill.alpha=1.5", "distill.alpha must be in [0, 1], got 1.5"),
        (
            "finetune_amp.precision=fp8",
            "finetune_amp.precision must be one of ('auto', 'fp16', 'bf16', 'fp32'), got 'fp8'",
        ),
        ("finetune_amp.warmup_ratio=1", "finetune_amp.warmup_ratio must be in [0, 1), got 1"),
        ("pretrain.batch_size=0", "pretrain.batch_size must be >= 1, got 0"),
        ("pretrain.max_length=4", "pretrain.max_length must be >= 8, got 4"),
        ("export.opset=9", "export.opset must be in [11, 23], got 9"),
        ("benchmark.batch_sizes=[1, 0]", "benchmark.batch_sizes[1] must be >= 1, got 0"),
        (
            "benchmark.runtimes=[onnx, tensorrt]",
            "benchmark.runtimes[1] must be one of ('pytorch', 'onnx', 'onnx-int8'), got 'tensorrt'",
        ),
        ("grid.sparsities=[0.5, 1.0]", "grid.sparsities[1] must be in [0, 1), got 1.0"),
        ("grid.precisions=[]", "grid.precisions must be a non-empty list"),
        (
            "kubernetes.cpu_limit=2 cores",
            "kubernetes.cpu_limit must be a Kubernetes quantity such as 2, 500m, 8G or 2Gi or null, got '2 cores'",
        ),
        (
            "kubernetes.retry_backoff_max_s=10",
            "kubernetes.retry_backoff_max_s must be >= retry_backoff_s (60), got 10",
        ),
        (
            "tracking.country_iso_code=India",
            "tracking.country_iso_code must be a three-letter ISO 3166 country code",
        ),
        ("seed=-1", "seed must be in [0, 4294967296), got -1"),
        ("name=a/b", "name must be a folder name"),
        ("teacher.hidden_size=102", "teacher.hidden_size (102) must be divisible by num_heads (4)"),
        ("prune.min_heads_per_layer=0", "prune.min_heads_per_layer must be >= 1, got 0"),
        ("prune.head_sparsity=1.0", "prune.head_sparsity must be in [0, 1) or null, got 1.0"),
        ("prune.block_movement.batch_size=0", "prune.block_movement.batch_size must be >= 1, got 0"),
        ("prune.block_movement.block_size=0", "prune.block_movement.block_size must be 'head' or a positive"),
        ("prune.nas.learning_rate=0", "prune.nas.learning_rate must be > 0, got 0"),
        ("prune.nas.confidence=0.5", "prune.nas.confidence must be in (0.5, 1), got 0.5"),
        ("prune.nas.space=huge", "prune.nas.space must be one of ('small', 'medium', 'layer', 'large')"),
        ("prune.sparsegpt.damping=0", "prune.sparsegpt.damping must be > 0, got 0"),
        ("prune.calibration.max_unknown=0", "prune.calibration.max_unknown must be in (0, 1], got 0"),
        ("data.dev_fraction=0.5", "data.dev_fraction must be in (0, 0.5), got 0.5"),
        ("data.max_train_rows=0", "data.max_train_rows must be >= 1 or null, got 0"),
        ("data.unseen_labels=keep", "data.unseen_labels must be 'error' or 'drop', got 'keep'"),
        ("data.seed=-3", "data.seed must be in [0, 4294967296), got -3"),
    ],
)
def test_a_bad_value_names_its_key(override, message):
    with pytest.raises(ConfigError) as err:
        load_config(overrides=[override])
    assert message in str(err.value)


def test_sections_built_directly_check_too():
    with pytest.raises(ConfigError, match="^learning_rate must be > 0, got 0$"):
        TeacherConfig(learning_rate=0)
    assert DistillConfig(epochs=0).epochs == 0  # 0 epochs is fine outside the teacher


def test_a_section_cannot_skip_the_field_checks():
    with pytest.raises(TypeError, match=r"Odd: put cross-field rules in check\(\), not __post_init__"):

        @dataclasses.dataclass(frozen=True)
        class Odd(Section):
            size: int = 1

            def __post_init__(self) -> None:
                pass
