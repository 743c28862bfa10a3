"""The prepared-data directory, written by prepare-data and read by every later step.

data/
  train.jsonl dev.jsonl test.jsonl   one {"text": str, "label": int, "label_name": str} per line
  label_map.json                     {"id2label": {"0": "Auto", ...}, "label2id": {"Auto": 0, ...}}
  data_report.json                   what was read, cleaned, split (see prepare.py)

texts, labels = read_split("runs/x/data", "train")
id2label = read_label_map("runs/x/data")
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pandas as pd

from slimnlp.data.errors import DataError

SPLIT_FILES = {"train": "train.jsonl", "dev": "dev.jsonl", "test": "test.jsonl"}
LABEL_MAP = "label_map.json"
REPORT = "data_report.json"


def write_split(out_dir: Path, split: str, table: pd.DataFrame, label2id: dict[str, int]) -> Path:
    """Write one split as JSON lines in table order."""
    path = out_dir / SPLIT_FILES[split]
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        for text, label in zip(table["text"], table["label"], strict=True):
            record = {"text": text, "label": label2id[label], "label_name": label}
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
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
    for name in [*SPLIT_FILES.values(), LABEL_MAP]:
        digest.update(name.encode() + b"\0")
        digest.update((out_dir / name).read_bytes())
    return digest.hexdigest()


def read_split(data_dir: str | Path, split: str) -> tuple[list[str], list[int]]:
    """(texts, label ids) of one split ("train", "dev" or "test") of a prepared-data directory."""
    if split not in SPLIT_FILES:
        raise DataError(f"unknown split {split!r}; expected one of {list(SPLIT_FILES)}")
    path = _existing(Path(data_dir) / SPLIT_FILES[split])
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
