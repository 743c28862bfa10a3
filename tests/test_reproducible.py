"""Same data, config and seed: the same tokenizer vocabulary and, on CPU, bit-identical teacher
weights, across processes (the tokenizers trainer's hash maps are seeded at random per process)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors.torch import load_file

from slimnlp import models, steps
from slimnlp.config import load_config
from tests.helpers_models import TINY_PIPELINE_SETTINGS

SETTINGS = [*TINY_PIPELINE_SETTINGS, "teacher.epochs=2", "teacher.patience=2", "name=repro"]


def _vocab(model_dir: Path) -> list[tuple[str, int]]:
    vocab = json.loads((model_dir / "tokenizer.json").read_text())["model"]["vocab"]
    return sorted(vocab.items(), key=lambda item: item[1])


def _train_teacher_in_new_process(tmp: Path, data: Path, out: Path, hash_seed: str) -> dict:
    overrides = [a for s in [*SETTINGS, f"output_dir={tmp}"] for a in ("--set", s)]
    env = {**os.environ, "PYTHONHASHSEED": hash_seed, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp}/mlflow.db"}
    command = [
        sys.executable,
        "-m",
        "slimnlp",
        "train-teacher",
        *overrides,
        "--data",
        str(data),
        "--out",
        str(out),
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads((out / "metrics.json").read_text())


@pytest.fixture(scope="module")
def two_teachers(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("repro")
    cfg = load_config(
        overrides=[*SETTINGS, f"output_dir={tmp}", f"tracking.tracking_uri=sqlite:///{tmp}/m.db"]
    )
    steps.prepare_data(cfg, tmp / "data")
    first = _train_teacher_in_new_process(tmp, tmp / "data", tmp / "a", "1")
    second = _train_teacher_in_new_process(tmp, tmp / "data", tmp / "b", "2")
    return tmp, first, second


def test_same_seed_gives_the_same_vocabulary(two_teachers):
    tmp = two_teachers[0]
    first, second = _vocab(tmp / "a"), _vocab(tmp / "b")
    assert len(first) > 500  # a real vocabulary, not an empty one that would trivially match
    assert first == second


def test_same_seed_gives_bit_identical_teacher_weights_on_cpu(two_teachers):
    tmp, first_metrics, second_metrics = two_teachers
    first, second = (
        load_file(str(tmp / "a" / "model.safetensors")),
        load_file(str(tmp / "b" / "model.safetensors")),
    )
    assert first.keys() == second.keys()
    different = [name for name in first if not (first[name] == second[name]).all()]
    assert different == []
    assert (tmp / "a" / "model.safetensors").read_bytes() == (tmp / "b" / "model.safetensors").read_bytes()
    for key in ("test_accuracy", "test_macro_f1", "best_epoch"):
        assert first_metrics.get(key) == second_metrics.get(key), key


def test_another_seed_gives_other_weights(two_teachers, tmp_path):
    """The test above could pass if the weights did not depend on training at all: a different seed
    must change them."""
    tmp = two_teachers[0]
    cfg = load_config(
        overrides=[
            *SETTINGS,
            "seed=14",
            f"output_dir={tmp_path}",
            f"tracking.tracking_uri=sqlite:///{tmp_path}/m.db",
        ]
    )
    steps.train_teacher(cfg, tmp / "data", tmp_path / "c")
    first, other = (
        load_file(str(tmp / "a" / "model.safetensors")),
        load_file(str(tmp_path / "c" / "model.safetensors")),
    )
    assert any(not (first[name] == other[name]).all() for name in first)
    assert _vocab(tmp / "a") == _vocab(tmp_path / "c")  # the vocabulary depends on the text only
    assert models.load_model_dir(tmp_path / "c")[0].config.num_labels >= 6
