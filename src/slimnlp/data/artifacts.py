"""The prepared-data directory, written by prepare-data and read by every later step.

data/
  train.arrow dev.arrow test.arrow   Arrow (the `datasets` format): columns text (str), label (int),
                                     label_name (str); memory-mapped by every later step
  label_map.json                     {"id2label": {"0": "Auto", ...}, "label2id": {"Auto": 0, ...}}
  data_report.json                   what was read, cleaned, split (see prepare.py)
  tokenized/                         token ids per split and tokenizer, written by the first step
                                     that needs them (tokenise.py)

texts, labels = read_split("runs/x/data", "train")
ds = load_split("runs/x/data", "train")        # a memory-mapped datasets.Dataset
id2label = read_label_map("runs/x/data")

Run directories written before the Arrow format (train.jsonl, ...) are read as before.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from slimnlp.data.errors import DataError

SPLIT_FILES = {"train": "train.arrow", "dev": "dev.arrow", "test": "test.arrow"}
JSONL_FILES = {"train": "train.jsonl", "dev": "dev.jsonl", "test": "test.jsonl"}  # before the Arrow format
LABEL_MAP = "label_map.json"
# Rows per record batch of every Arrow file the data layer writes (datasets writes 1,000): each
# record batch of a mapped file costs ~3 KB of the reading process's memory.
WRITER_BATCH = 10_000
REPORT = "data_report.json"


def write_split(out_dir: Path, split: str, table: Any, label2id: dict[str, int]) -> Path:
    """Write one split (a datasets.Dataset or a DataFrame with text and label columns) as Arrow, in
    table order, in batches."""
    import datasets

    if not isinstance(table, datasets.Dataset):
        table = datasets.Dataset.from_dict({"text": list(table["text"]), "label": list(table["label"])})
    path = out_dir / SPLIT_FILES[split]
    features = datasets.Features(
        {
            "text": datasets.Value("string"),
            "label": datasets.Value("int64"),
            "label_name": datasets.Value("string"),
        }
    )
    table.select_columns(["text", "label"]).map(
        lambda batch: {
            "text": batch["text"],
            "label": [label2id[name] for name in batch["label"]],
            "label_name": batch["label"],
        },
        batched=True,
        batch_size=10_000,
        writer_batch_size=WRITER_BATCH,
        features=features,
        cache_file_name=str(path),
        new_fingerprint=f"prepared-{split}",
        load_from_cache_file=False,
        desc=f"writing {split}",
    )
    return path


def write_label_map(out_dir: Path, label_names: list[str]) -> dict[str, int]:
    """Ids follow the sorted label names (numbers in numeric order: -1, 0, 1, 10), so the same labels
    always get the same ids."""
    from slimnlp.data.labels import sort_labels

    names = sort_labels(list(label_names))
    label2id = {name: i for i, name in enumerate(names)}
    payload = {"id2label": {str(i): name for i, name in enumerate(names)}, "label2id": label2id}
    _write_json(out_dir / LABEL_MAP, payload)
    return label2id


def write_report(out_dir: Path, report: dict[str, Any]) -> Path:
    return _write_json(out_dir / REPORT, report)


def data_hash(out_dir: Path) -> str:
    """sha256 over the split files and the label map: equal hashes mean equal prepared data."""
    digest = hashlib.sha256()
    for split in SPLIT_FILES:
        path = split_path(out_dir, split)
        digest.update(path.name.encode() + b"\0")
        with open(path, "rb") as data:
            for block in iter(lambda: data.read(1 << 20), b""):
                digest.update(block)
    digest.update(LABEL_MAP.encode() + b"\0")
    digest.update((out_dir / LABEL_MAP).read_bytes())
    return digest.hexdigest()


def split_path(data_dir: str | Path, split: str) -> Path:
    """The split's file: train.arrow, or train.jsonl in a run directory from before the Arrow format."""
    if split not in SPLIT_FILES:
        raise DataError(f"unknown split {split!r}; expected one of {list(SPLIT_FILES)}")
    arrow, jsonl = Path(data_dir) / SPLIT_FILES[split], Path(data_dir) / JSONL_FILES[split]
    return arrow if arrow.is_file() or not jsonl.is_file() else jsonl


def load_split(data_dir: str | Path, split: str):
    """One split as a memory-mapped `datasets.Dataset` (text, label, label_name); an old .jsonl split
    is read into memory."""
    import datasets

    path = _existing(split_path(data_dir, split))
    if path.suffix == ".arrow":
        return datasets.Dataset.from_file(str(path))
    texts, labels = _read_jsonl(path)
    return datasets.Dataset.from_dict({"text": texts, "label": labels})


def read_split(data_dir: str | Path, split: str) -> tuple[list[str], list[int]]:
    """(texts, label ids) of one split ("train", "dev" or "test") of a prepared-data directory."""
    path = _existing(split_path(data_dir, split))
    if path.suffix == ".jsonl":
        return _read_jsonl(path)
    import pyarrow as pa

    try:
        with pa.memory_map(str(path)) as source:
            table = pa.ipc.open_stream(source).read_all()
        return table.column("text").to_pylist(), table.column("label").to_pylist()
    except (pa.ArrowInvalid, KeyError, OSError) as err:
        raise DataError(
            f"{path}: not a prepared split ({type(err).__name__}: {err}); re-run prepare-data"
        ) from None


def _read_jsonl(path: Path) -> tuple[list[str], list[int]]:
    texts, labels = [], []
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                texts.append(str(record["text"]))
                labels.append(int(record["label"]))
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
                raise DataError(
                    f"{path} line {number}: expected a JSON object with 'text' and an integer "
                    f"'label' ({type(err).__name__}: {err}); re-run prepare-data"
                ) from None
    return texts, labels


def read_label_map(data_dir: str | Path) -> dict[int, str]:
    """{label id: label name} of a prepared-data directory."""
    path = _existing(Path(data_dir) / LABEL_MAP)
    try:
        id2label = json.loads(path.read_text(encoding="utf-8"))["id2label"]
        return {int(i): str(name) for i, name in sorted(id2label.items(), key=lambda item: int(item[0]))}
    except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as err:
        raise DataError(
            f'{path}: expected {{"id2label": {{"0": name, ...}}}} ({type(err).__name__}: '
            f"{err}); re-run prepare-data"
        ) from None


def _existing(path: Path) -> Path:
    if not path.is_file():
        raise DataError(
            f"{path} does not exist; run `slimnlp prepare-data --out {path.parent}` first "
            "(or pass the directory prepare-data wrote)"
        )
    return path


def _write_json(path: Path, payload: dict[str, Any]) -> Path:
    path.write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path
