"""The shipped configs prepare the same data as before prepare-data moved to `datasets` and Arrow.

The sha256 per split (over each row's text, label id and label name) and the row counts were
computed with the pandas implementation (commit 05066f2) on the same files; the configs with
../shared data skip without it. Each prepared split is compared row by row through its hash.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from slimnlp.config import load_config
from slimnlp.data import prepare_data_files, read_label_map, read_split

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
BEFORE = {
    "default": {
        "train": "21d40e393637ee8adb136330434e4cdc7adddc72a393c25311c4fff70c98b75e",
        "dev": "29e69052aa71600af43713fa8c0a9a2a4c440fb7ca668c9a1b949e1cb0831a3a",
        "test": "50e773d4ff8e29747b2b0764da658d969fb33b385bb3eff5b0aaaa1de751e070",
        "rows": (356, 40, 100),
    },
    "mahanews-shc": {
        "train": "9f02e91163e83e85d115a50e89f662c18383f039c36d0cb8372c694cb428011c",
        "dev": "0cb350742866d023519cabc6ba08595c5473b6d753c5c42f0206300269cccaba",
        "test": "70edaad9e6ae857ce7266526ea3b9efb43ac73b0bccdb27f8321e84dae75bfac",
        "rows": (2147, 239, 2397),
    },
    "mahasent-mr": {
        "train": "c2764ac73137cfb831c34cb2d811a3d6bc85ac4c1ebaac822af8808cf64d7c25",
        "dev": "5b7c0ef846eff83833bff33d7edf2095f19db42d3e1f8bf1877f226c3af9f698",
        "test": "104021d8d0041c12bd6506ca8a57eceb5073fa00cbe014245b4db3458a0dd6da",
        "rows": (12000, 1500, 1500),
    },
    "nas-shc": {
        "train": "c2d407b1fc1d8de8a3acba3139912d54b9e059cab5b176786be08e805f558677",
        "dev": "55330794c0e375baf71aa3919a0784d2013828dbf1f12c6e4034be05b8e7cb33",
        "test": "b3dafb149beb5a0167a1ea2c20400803eb91b57c99bae1e3f3eb17cbebcf50fd",
        "rows": (2440, 272, 2751),
    },
    "paper-grid": {
        "train": "7a1bf243222ae0c41473eacbf7311eaab44dcf41eecf99821a8be24f35497411",
        "dev": "0cb350742866d023519cabc6ba08595c5473b6d753c5c42f0206300269cccaba",
        "test": "f0a1f6db1e831b72c279d4a393fc4fba85eceef22e0400b7180035da35ddbfed",
        "rows": (1000, 239, 1000),
    },
    "scale-bert-base": {
        "train": "b8b9fb185a5f7b0c4201977613982cb1da4dfb62bc405ad4ae2fa05b43c69edb",
        "dev": "55330794c0e375baf71aa3919a0784d2013828dbf1f12c6e4034be05b8e7cb33",
        "test": "b67806fb561f5e987304849e17c7e2ade3178d372984e05eb12b362a9a4b0879",
        "rows": (240, 272, 240),
    },
}


def split_digest(texts: list[str], labels: list[int], id2label: dict[int, str]) -> str:
    digest = hashlib.sha256()
    for text, label in zip(texts, labels, strict=True):
        digest.update(json.dumps([text, label, id2label[label]], ensure_ascii=False).encode() + b"\n")
    return digest.hexdigest()


def check(name: str, tmp_path: Path) -> None:
    cfg = load_config(CONFIGS / f"{name}.yaml")
    prepare_data_files(cfg.data, tmp_path, progress=False)
    id2label = read_label_map(tmp_path)
    splits = {split: read_split(tmp_path, split) for split in ("train", "dev", "test")}
    assert tuple(len(texts) for texts, _ in splits.values()) == BEFORE[name]["rows"]
    for split, (texts, labels) in splits.items():
        assert split_digest(texts, labels, id2label) == BEFORE[name][split], f"{name} {split} changed"


def test_default_config_sample_is_unchanged(tmp_path: Path) -> None:
    check("default", tmp_path)


@pytest.mark.parametrize("name", ["mahanews-shc", "mahasent-mr"])
def test_real_data_configs_are_unchanged(name: str, shared_data: Path, tmp_path: Path) -> None:
    check(name, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["nas-shc", "paper-grid", "scale-bert-base"])
def test_more_real_data_configs_are_unchanged(name: str, shared_data: Path, tmp_path: Path) -> None:
    """Repeats kept as published (drop_duplicates: false) and stratified row limits."""
    check(name, tmp_path)
