"""Token ids of the prepared splits: tokenised once per split and tokenizer, reused by later steps."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from slimnlp.config import DataConfig
from slimnlp.data import load_splits, prepare_data_files
from slimnlp.data.tokenise import TOKENISATIONS, cached_token_ids
from slimnlp.mlops import resume
from slimnlp.models import build_bert, train_wordpiece
from slimnlp.training.batches import encode, predict_logits
from slimnlp.training.loop import LoopSettings, train_classifier


@pytest.fixture(autouse=True)
def cache_dir(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("SLIMNLP_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("data")
    prepare_data_files(DataConfig(), out, progress=False)  # the shipped sample: 356/40/100 rows
    return out


def tiny(texts: list[str], vocab_size: int = 120):
    tokenizer = train_wordpiece(texts, vocab_size, 32)
    torch.manual_seed(0)
    model = build_bert(len(tokenizer), 12, {i: str(i) for i in range(12)}, num_layers=1, hidden_size=16,
                       num_heads=2, intermediate_size=32, max_length=32, pad_token_id=tokenizer.pad_token_id)  # fmt: skip
    return model, tokenizer


def run_steps(data: Path, tokenizer, model, steps: int) -> None:
    """What train-teacher, prune, distill and finetune-amp do with the splits: load them, train on
    train scoring dev (the first step), the teacher's logits on train (the later ones), score test."""
    settings = LoopSettings(epochs=1, batch_size=128, learning_rate=1e-3, max_length=32, patience=1)
    for step in range(steps):
        train, dev, test, _ = load_splits(data)
        if step == 0:
            train_classifier(model, tokenizer, train, dev, settings, progress=False)
        else:
            predict_logits(model, tokenizer, train[0], 32)
            predict_logits(model, tokenizer, dev[0], 32)
        predict_logits(model, tokenizer, test[0], 32)


def test_each_split_is_tokenised_once_per_tokenizer(
    prepared: Path, tmp_path: Path, cache_dir: Path, capsys
) -> None:
    data = Path(shutil.copytree(prepared, tmp_path / "data"))
    before = resume.dir_digest(data)
    train, _, _, _ = load_splits(data)
    model, tokenizer = tiny(list(train[0]))
    TOKENISATIONS.clear()
    run_steps(data, tokenizer, model, steps=4)
    assert TOKENISATIONS[("tokenised", "train")] == 1
    assert TOKENISATIONS[("tokenised", "dev")] == 1
    assert TOKENISATIONS[("tokenised", "test")] == 1
    # the dev split is scored after every epoch: reused from then on; train and test by each later step
    assert TOKENISATIONS[("reused", "train")] == 3 and TOKENISATIONS[("reused", "test")] == 3
    printed = capsys.readouterr().out
    assert printed.count("tokens: tokenising train (356 rows)") == 1
    assert printed.count("tokens: reused train (356 rows)") == 3
    # Another tokenizer (a different vocabulary) is a new key: tokenised once more, then reused.
    _, other = tiny(list(train[0])[:40])
    TOKENISATIONS.clear()
    run_steps(data, other, model, steps=2)
    assert TOKENISATIONS[("tokenised", "train")] == 1 and TOKENISATIONS[("reused", "train")] == 1
    assert len(list((cache_dir / "tokenized").glob("train-*.arrow"))) == 2
    assert resume.dir_digest(data) == before  # the step's input is untouched (resume keys on it)


def test_cached_ids_equal_the_tokenizer_s_own(prepared: Path, tmp_path: Path) -> None:
    data = Path(shutil.copytree(prepared, tmp_path / "data"))
    train, _, _, _ = load_splits(data)
    _, tokenizer = tiny(list(train[0]))
    direct = tokenizer(list(train[0]), truncation=True, max_length=16, padding=False)["input_ids"]
    assert encode(tokenizer, train[0], 16) == direct  # the first call tokenises into the cache
    cached = cached_token_ids(tokenizer, train[0], 16)  # the second reads it back
    assert cached.take([5, 0, 5]) == [direct[5], direct[0], direct[5]]
    assert cached.lengths.tolist() == [len(x) for x in direct]
    assert cached_token_ids(tokenizer, list(train[0]), 16) is None  # a plain list: not a split
    assert cached_token_ids(tokenizer, train[0][:10], 16) is None  # a slice is a plain list


def test_the_cache_is_keyed_by_the_data_too(prepared: Path, tmp_path: Path, cache_dir: Path) -> None:
    """Another prepared dataset (other rows) with the same tokenizer is tokenised, not reused."""
    data = Path(shutil.copytree(prepared, tmp_path / "data"))
    train, _, _, _ = load_splits(data)
    _, tokenizer = tiny(list(train[0]))
    other = tmp_path / "other"
    prepare_data_files(DataConfig(max_train_rows=100), other, progress=False)
    TOKENISATIONS.clear()
    cached_token_ids(tokenizer, train[0], 16)
    assert len(cached_token_ids(tokenizer, load_splits(other)[0][0], 16)) == 100
    assert TOKENISATIONS[("tokenised", "train")] == 2


def test_split_texts_read_the_mapped_file_on_demand(prepared: Path) -> None:
    """load_splits holds no split's texts as Python strings: SplitTexts reads the Arrow column on
    demand, behaves as a read-only list, and pickles by path (DDP workers reopen the file)."""
    import pickle

    from slimnlp.data import read_split
    from slimnlp.data.tokenise import SplitTexts

    train, dev, _, _ = load_splits(prepared)
    texts, labels = read_split(prepared, "train")
    assert isinstance(train[0], SplitTexts) and len(train[0]) == len(texts) == 356
    assert train[1] == labels
    assert train[0] == texts and list(train[0]) == texts and train[0] != texts[:-1]
    assert train[0][0] == texts[0] and train[0][-1] == texts[-1] and train[0][5:9] == texts[5:9]
    assert type(train[0][5:9]) is list and train[0][::100] == texts[::100]
    with pytest.raises(IndexError, match="train split has 356 texts; no index 356"):
        train[0][356]
    assert all(isinstance(t, str) for t in train[0]) and "SplitTexts(" in repr(train[0])
    payload = pickle.dumps(train[0])
    assert len(payload) < 500  # the path and split, not the texts
    again = pickle.loads(payload)
    assert isinstance(again, SplitTexts) and again.split == "train" and again == texts
    assert dev[0] == read_split(prepared, "dev")[0]


def test_split_labels_read_the_mapped_file_on_demand(prepared: Path) -> None:
    """load_splits holds no Python int or tensor per label id: SplitLabels reads the Arrow column's
    chunks as views of the mapped file, behaves as a read-only list, takes rows, pickles by path."""
    import pickle

    import numpy as np

    from slimnlp.data import read_split
    from slimnlp.data.tokenise import SplitLabels
    from slimnlp.training.batches import label_tensor

    train, dev, _, _ = load_splits(prepared)
    _, labels = read_split(prepared, "train")
    ids = train[1]
    assert isinstance(ids, SplitLabels) and len(ids) == len(labels) == 356
    assert ids == labels and list(ids) == labels and ids != labels[:-1] and ids != [9] * 356
    assert ids[0] == labels[0] and ids[-1] == labels[-1] and ids[3:40:7] == labels[3:40:7]
    assert all(type(i) is int for i in ids) and np.array_equal(np.asarray(ids), labels)
    assert np.array_equal(ids.take([355, 0, 17, 17]), [labels[355], labels[0], labels[17], labels[17]])
    with pytest.raises(IndexError, match="train split has 356 labels; no index 356"):
        ids[356]
    with pytest.raises(IndexError):
        ids.take([356])
    assert all(part.base is not None for part in ids._parts)  # views of the file, not copies
    base = ids._compact  # random reads go to a compact copy in a mapped file
    while base is not None and not isinstance(base, np.memmap):
        base = base.base
    assert base is not None and np.array_equal(ids._compact, labels)
    again = pickle.loads(pickle.dumps(ids))
    assert isinstance(again, SplitLabels) and again == labels and len(pickle.dumps(ids)) < 500
    assert torch.equal(label_tensor(ids)[[5, 2]], torch.tensor([labels[5], labels[2]]))
    assert torch.equal(label_tensor(labels)[[5, 2]], torch.tensor([labels[5], labels[2]]))
    assert dev[1] == read_split(prepared, "dev")[1]


def test_the_epoch_order_is_torch_s_in_a_mapped_file() -> None:
    """The training loop's shuffled order: the rows torch.randperm gives for the seed (so training
    runs are unchanged), held in a temporary mapped file instead of the process's memory."""
    from slimnlp.training.batches import epoch_order

    for rows in (0, 1, 1000, 70_001):
        order = epoch_order(rows, torch.Generator().manual_seed(7))
        assert torch.equal(order, torch.randperm(rows, generator=torch.Generator().manual_seed(7)))
    maps = Path("/proc/self/maps")
    if maps.is_file():  # Linux: the tensor's memory is a mapping of the (unlinked) order file
        lines = maps.read_text().splitlines()
        spans = [
            line.split()[0].split("-") for line in lines if " rw-s " in line and line.endswith("(deleted)")
        ]
        assert any(int(lo, 16) <= order.data_ptr() < int(hi, 16) for lo, hi in spans)


def test_a_long_split_is_tokenised_by_two_processes_into_one_cache_file(
    prepared: Path, tmp_path: Path, cache_dir: Path, monkeypatch
) -> None:
    """From PARALLEL_ROWS rows on, two processes tokenise (num_proc measured 0.52x the wall time at 1M
    rows on 2 cores); the shards are joined into the one file the cache reads back, ids unchanged."""
    from slimnlp.data import tokenise

    data = Path(shutil.copytree(prepared, tmp_path / "data"))
    train, _, _, _ = load_splits(data)
    _, tokenizer = tiny(list(train[0]))
    direct = tokenizer(list(train[0]), truncation=True, max_length=16, padding=False)["input_ids"]
    monkeypatch.setattr(tokenise, "PARALLEL_ROWS", 100)
    monkeypatch.setattr(tokenise.os, "cpu_count", lambda: 2)
    assert tokenise.tokenise_workers(99) == 1 and tokenise.tokenise_workers(356) == 2
    assert encode(tokenizer, train[0], 16) == direct
    assert [p.name for p in (cache_dir / "tokenized").iterdir()] == [
        p.name for p in (cache_dir / "tokenized").glob("train-*.arrow")
    ]  # one file, no shard folder left
    TOKENISATIONS.clear()
    assert cached_token_ids(tokenizer, train[0], 16).take([0, 355]) == [direct[0], direct[355]]
    assert TOKENISATIONS[("reused", "train")] == 1


def test_helpers_that_call_the_tokenizer_take_a_split_s_texts(prepared: Path, monkeypatch) -> None:
    """A fast tokenizer refuses anything but a list; a split's texts (SplitTexts) reach it through
    helpers that tokenise them directly (vocabulary transfer's token count, the uncached encode)."""
    from slimnlp.models.vocab_transfer import average_tokens
    from slimnlp.training import batches

    train, _, test, _ = load_splits(prepared)
    _, tokenizer = tiny(list(train[0]))
    assert average_tokens(tokenizer, test[0]) == average_tokens(tokenizer, list(test[0])) > 0
    direct = tokenizer(list(test[0]), truncation=True, max_length=16, padding=False)["input_ids"]
    monkeypatch.setattr(batches, "cached_token_ids", lambda *args, **kwargs: None)  # the cache off
    assert batches.encode(tokenizer, test[0], 16) == direct
