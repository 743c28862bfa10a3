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

# Two train-teacher processes (about 2 min of CPU): in `make test-slow`, keeping `make test` under 15 min.
pytestmark = pytest.mark.slow

SETTINGS = [
    *TINY_PIPELINE_SETTINGS,
    "teacher.epochs=2",
    "teacher.patience=2",
    "name=repro",
    "tracking.codecarbon=false",
]


def _vocab(model_dir: Path) -> list[tuple[str, int]]:
    vocab = json.loads((model_dir / "tokenizer.json").read_text())["model"]["vocab"]
    return sorted(vocab.items(), key=lambda item: item[1])


def _train_teacher_in_new_process(tmp: Path, data: Path, out: Path, hash_seed: str) -> subprocess.Popen:
    overrides = [a for s in [*SETTINGS, f"output_dir={tmp}"] for a in ("--set", s)]
    env = {**os.environ, "PYTHONHASHSEED": hash_seed, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp}/{out.name}.db"}
    command = [sys.executable, "-m", "slimnlp", "train-teacher", *overrides]
    command += ["--data", str(data), "--out", str(out)]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _finished(process: subprocess.Popen, out: Path) -> dict:
    output, _ = process.communicate(timeout=600)
    assert process.returncode == 0, output[-3000:]
    return json.loads((out / "metrics.json").read_text())


@pytest.fixture(scope="module")
def two_teachers(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("repro")
    cfg = load_config(
        overrides=[*SETTINGS, f"output_dir={tmp}", f"tracking.tracking_uri=sqlite:///{tmp}/m.db"]
    )
    steps.prepare_data(cfg, tmp / "data")
    # Two processes at once (two cores): each seeds the tokenizers trainer's hash maps its own way.
    runs = [
        _train_teacher_in_new_process(tmp, tmp / "data", tmp / out, seed)
        for out, seed in (("a", "1"), ("b", "2"))
    ]
    return tmp, _finished(runs[0], tmp / "a"), _finished(runs[1], tmp / "b")


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


def _sample_texts() -> list[str]:
    import csv

    sample = Path(__file__).parents[2] / "src" / "slimnlp" / "data" / "sample" / "marathi_topics.csv"
    return [row["text"] for row in csv.DictReader(sample.open(encoding="utf-8"))]


def test_wordpiece_is_the_same_within_a_process_and_its_helper_pieces_are_plain_vocabulary():
    """The tokenizers trainer seeds each of its hash maps anew, so two trainings in one process
    differ as well; ours do not. The `##x` pieces handed to the trainer are exactly those it
    creates itself, and end up as vocabulary entries, not added tokens cut out of the text."""
    from tokenizers import Tokenizer, normalizers, pre_tokenizers, trainers
    from tokenizers import models as tok_models

    from slimnlp.models.vocab_transfer import train_in_domain_tokenizer

    texts = _sample_texts()
    first, second = models.train_wordpiece(texts, 1500, 32), models.train_wordpiece(texts, 1500, 32)
    assert first.get_vocab() == second.get_vocab() and len(first) == 1500
    assert first.convert_ids_to_tokens(list(range(5))) == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert sorted(first.backend_tokenizer.get_added_tokens_decoder()) == [0, 1, 2, 3, 4]
    upstream = Tokenizer(tok_models.WordPiece(unk_token="[UNK]"))
    upstream.normalizer, upstream.pre_tokenizer = normalizers.NFC(), pre_tokenizers.BertPreTokenizer()
    upstream.train_from_iterator(texts, trainers.WordPieceTrainer(vocab_size=1500, show_progress=False))

    def single_pieces(vocab):
        return {t for t in vocab if t.startswith("##") and len(t) == 3}

    assert single_pieces(first.get_vocab()) == single_pieces(upstream.get_vocab())
    # vocabulary transfer trains its in-domain WordPiece the same way
    a, b = (train_in_domain_tokenizer(first, texts[:250], 600) for _ in range(2))
    assert (
        a.get_vocab() == b.get_vocab() and a.pad_token_id == 0 and a("एक")["input_ids"][0] == a.cls_token_id
    )
