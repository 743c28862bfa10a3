"""A pruning method is one record (`PruneMethod`) in its own folder, registered once.

The toy method below lives in a package of its own (a folder in tmp_path with `config.py` and
`pruner.py`) plus one registration line (an entry point, the way a method outside slimnlp
registers); nothing in slimnlp changes, and the prune step runs it on a tiny model.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from slimnlp.prune.descriptor import PruneMethod, PruneMethodConfig
from slimnlp.prune.methods import PRUNE_METHODS, prune_method, register_prune_method

REPO = Path(__file__).parents[2]

TOY_CONFIG = """
from dataclasses import dataclass

from slimnlp.config.base import _help
from slimnlp.prune.descriptor import PruneMethod, PruneMethodConfig


@dataclass(frozen=True)
class ToyConfig(PruneMethodConfig):
    keep_heads: int = _help("Heads each layer keeps (its first ones).", 1, ge=1)


METHOD = PruneMethod(
    name="toy",
    config=ToyConfig,
    pruner="toy_prune.pruner:ToyPruner",
    summary="keeps the first prune.toy.keep_heads heads of every layer",
    uses_target_sparsity=False,
)
"""

TOY_PRUNER = """
from slimnlp.prune.removal import build_report, measure, remove_units


class ToyPruner:
    def wants_teacher_logits(self, config):
        return False

    def prune(self, model, tokenizer, train, dev, context):
        before = measure(model)
        keep = context.config.toy.keep_heads
        heads = [list(range(min(keep, n))) for n in before.heads_per_layer]
        remove_units(model, heads, [list(range(n)) for n in before.neurons_per_layer])
        return build_report("toy", model, before, heads, [])
"""

RUN_PRUNE_STEP = """
import json, sys
from pathlib import Path

from slimnlp import steps
from slimnlp.config import load_config
from slimnlp.mlops import tracking
from tests.helpers_models import build_tiny_model_dir

root = Path(sys.argv[1])
cfg = load_config(overrides=[
    f"output_dir={root}", f"tracking.tracking_uri=sqlite:///{root}/mlflow.db", "tracking.codecarbon=false",
    "prune.method=toy", "prune.toy.keep_heads=2",
])
teacher = build_tiny_model_dir(root / "teacher")
with tracking.parent_run(cfg) as parent:
    metrics = steps.prune(cfg, root / "data", teacher, root / "pruned", parent_run_id=parent)
print("METRICS " + json.dumps(metrics, default=str))
"""


def _toy_package(root: Path) -> Path:
    """The toy method's folder and its one registration (an entry point), under `root`."""
    package = root / "toy_prune"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "config.py").write_text(TOY_CONFIG)
    (package / "pruner.py").write_text(TOY_PRUNER)
    info = root / "toy_prune-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-prune\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[slimnlp.prune_methods]\ntoy = toy_prune.config:METHOD\n")
    return root


def _tiny_data(folder: Path) -> None:
    from tests.helpers_models import TINY_ID2LABEL, TINY_LABELS, TINY_TEXTS

    folder.mkdir(parents=True)
    lines = [
        json.dumps({"text": t, "label": y, "label_name": TINY_ID2LABEL[y]})
        for t, y in zip(TINY_TEXTS, TINY_LABELS, strict=True)
    ]
    for split in ("train", "dev", "test"):
        (folder / f"{split}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    id2label = {str(i): name for i, name in TINY_ID2LABEL.items()}
    (folder / "label_map.json").write_text(json.dumps({"id2label": id2label, "label2id": {}}))


@pytest.mark.slow  # the CLI in subprocesses, ~30 s on 2 cores: make test-slow (CI runs it)
def test_a_toy_method_is_its_folder_and_one_registration(tmp_path):
    plugins = _toy_package(tmp_path / "plugins")
    _tiny_data(tmp_path / "run" / "data")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(plugins), str(REPO)])}
    done = subprocess.run(
        [sys.executable, "-c", RUN_PRUNE_STEP, str(tmp_path / "run")],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads(done.stdout.split("METRICS ", 1)[1])
    # The tiny teacher has 4 heads in each of 2 layers; prune.toy.keep_heads=2 keeps 2 of each.
    assert metrics["method"] == "toy" and metrics["heads_per_layer_after"] == [2, 2]
    assert metrics["heads_removed"] == 4 and metrics["params_after"] < metrics["params_before"]
    assert (tmp_path / "run" / "pruned" / "model.safetensors").is_file()
    # The method is a choice of prune.method in --help, and its section is checked at load time.
    cli = [sys.executable, "-m", "slimnlp", "prune", "--help"]
    help_text = subprocess.run(cli, env=env, capture_output=True, text=True, check=True).stdout
    assert "toy" in help_text and "keeps the first prune.toy.keep_heads heads" in help_text
    bad = [
        sys.executable,
        "-m",
        "slimnlp",
        "prune",
        "--set",
        "prune.method=toy",
        "--set",
        "prune.toy.keep_heads=0",
    ]
    refused = subprocess.run(bad, env=env, capture_output=True, text=True)
    assert refused.returncode == 2 and "prune.toy.keep_heads must be >= 1, got 0" in refused.stderr


def test_a_name_is_registered_once():
    with pytest.raises(ValueError, match="'wanda' is registered twice"):
        register_prune_method(PRUNE_METHODS["wanda"])


def test_a_record_names_a_pruner_class_and_a_config_section():
    with pytest.raises(ValueError, match="must be 'module:Class'"):
        PruneMethod("bad", PruneMethodConfig, "slimnlp.prune.bad.Pruner", "no colon")
    with pytest.raises(TypeError, match="is not a PruneMethodConfig"):
        PruneMethod("bad", dict, "m:C", "not a section")
    with pytest.raises(ValueError, match=r"no pruning method named 'bad'; registered: \('importance'"):
        prune_method("bad")


def test_every_trait_is_on_the_record_and_nowhere_else():
    """The traits the steps read are the record's fields; no config class or pruner keeps a copy."""
    import dataclasses

    traits = {f.name for f in dataclasses.fields(PruneMethod)} - {"name", "config", "pruner", "summary"}
    assert traits == {"trains", "calibrates", "keeps_zeros", "uses_target_sparsity", "reads"}
    old = {
        "KEEPS_ZEROS",
        "USES_TARGET_SPARSITY",
        "READS",
        "SUMMARY",
        "trains",
        "uses_calibration",
        "structured",
    }
    for name, method in PRUNE_METHODS.items():
        pruner_cls = type(method.load_pruner())
        assert not old & set(vars(method.config)), (
            f"{name}: config class keeps {old & set(vars(method.config))}"
        )
        assert not old & set(dir(pruner_cls)), f"{name}: pruner keeps {old & set(dir(pruner_cls))}"
    assert prune_method("nas").reads == ("benchmark", "export", "registry")
    assert not prune_method("nas").uses_target_sparsity
    assert {n for n, m in PRUNE_METHODS.items() if m.keeps_zeros} == {"magnitude", "wanda", "sparsegpt"}
    assert {n for n, m in PRUNE_METHODS.items() if m.calibrates} == {
        "wanda",
        "sparsegpt",
        "structured_oneshot",
    }
    assert {n for n, m in PRUNE_METHODS.items() if m.trains} == {"block_movement"}
