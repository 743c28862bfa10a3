"""A pruned model directory loads in plain transformers (`trust_remote_code=True`) with the same
logits as slimnlp's loader, for uneven heads and FFN sizes per layer and dropped layers; every
registered pruner's output is checked in tests/prune/test_contract.py with `assert_loads_in_transformers`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from slimnlp import models
from slimnlp.models.surgery import keep_layers
from slimnlp.training.batches import predict_logits
from tests.helpers_models import TINY_TEXTS, build_tiny_model_dir

MAX_LENGTH = 32


def assert_loads_in_transformers(model_dir: Path, atol: float = 1e-5) -> None:
    """AutoModelForSequenceClassification + AutoTokenizer from the directory give slimnlp's logits."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    ours, tokenizer = models.load_model_dir(model_dir)
    theirs = AutoModelForSequenceClassification.from_pretrained(model_dir, trust_remote_code=True).eval()
    their_tokenizer = AutoTokenizer.from_pretrained(model_dir)
    assert their_tokenizer(TINY_TEXTS)["input_ids"] == tokenizer(TINY_TEXTS)["input_ids"]
    torch.testing.assert_close(
        predict_logits(theirs, their_tokenizer, TINY_TEXTS, MAX_LENGTH),
        predict_logits(ours, tokenizer, TINY_TEXTS, MAX_LENGTH),
        atol=atol,
        rtol=0,
    )


@pytest.mark.parametrize(
    ("kept_heads", "kept_neurons", "layers"),
    [([[0, 2, 3], [1]], 40, 2), ([[3], [0, 1, 2, 3]], 7, 2), (None, None, 2), ([[1, 2], [0, 3]], 16, 1)],
    ids=["uneven", "one-head-few-neurons", "unpruned", "one-layer"],
)
def test_pruned_dirs_load_in_plain_transformers(tmp_path, kept_heads, kept_neurons, layers):
    model_dir = build_tiny_model_dir(tmp_path / "built", kept_heads=kept_heads, kept_neurons=kept_neurons)
    if layers < 2:
        model, tokenizer = models.load_model_dir(model_dir)
        keep_layers(model, layers)
        model_dir = models.save_model_dir(model, tokenizer, tmp_path / "shallow")
    config = json.loads((model_dir / "config.json").read_text())
    assert config["auto_map"] == {
        "AutoModelForSequenceClassification": "slimnlp_modeling.SlimnlpBertForSequenceClassification"
    }
    assert config["slimnlp_layout"] == json.loads((model_dir / models.LAYOUT_FILE).read_text())
    assert_loads_in_transformers(model_dir)


def test_a_process_without_slimnlp_loads_it(tmp_path):
    model_dir = build_tiny_model_dir(tmp_path / "m", kept_heads=[[0, 2, 3], [1]], kept_neurons=40)
    ours, tokenizer = models.load_model_dir(model_dir)
    expected = predict_logits(ours, tokenizer, TINY_TEXTS[:3], MAX_LENGTH)
    code = (
        "import sys, json, torch; sys.modules['slimnlp'] = None\n"  # any `import slimnlp` now fails
        "from transformers import AutoModelForSequenceClassification as M, AutoTokenizer as T\n"
        f"d = {str(model_dir)!r}\n"
        "m, t = M.from_pretrained(d, trust_remote_code=True).eval(), T.from_pretrained(d)\n"
        f"x = t({TINY_TEXTS[:3]!r}, padding=True, truncation=True, max_length={MAX_LENGTH}, return_tensors='pt')\n"
        "with torch.no_grad(): print(json.dumps(m(**x).logits.tolist()))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    logits = torch.tensor(json.loads(result.stdout.strip().splitlines()[-1]))
    torch.testing.assert_close(logits, expected.float(), atol=1e-5, rtol=0)
