"""Which files of a dataset folder are the train, dev and test splits.

    find_split_files(Path("snapshot"), "hf://datasets/owner/name", config="default",
                     mapping={"train": "train", "dev": "validation"})
    # {"train": [.../train-00000-of-00002.parquet, .../train-00001-of-00002.parquet], "dev": [...]}

A folder is read the way the Hub reads a dataset repository:
1. a README.md with a `configs:` block: `datasets` resolves the config's files per split
   (data.config names the config; the default one otherwise);
2. otherwise, with data.config, the sub-folder of that name (the Hub's Parquet export:
   `default/train/0000.parquet`);
3. each file's split is the folder it sits in (`train/0000.parquet`) or its name (`train-00000-of-
   00002.parquet`, `MahaSent_MR_Train.csv`); a folder holding one data file has only a train split.
Our splits come from the dataset's split names by `data.splits` (e.g. {dev: validation}), or by
name: `train`; `valid`/`val`/`dev`; `test` (case-insensitive). Several files of one split are its
shards, joined in name order, when they are shard-named or sit in the split's folder; two unrelated
files for one split are ambiguous and stop the run.
"""

from __future__ import annotations

import re
from pathlib import Path

from slimnlp.data.errors import DataError
from slimnlp.data.tables import is_data_file

SPLITS = ("train", "dev", "test")
_ROLE_PATTERNS = {
    "train": re.compile("train", re.I),
    "dev": re.compile("valid|val|dev", re.I),
    "test": re.compile("test", re.I),
}
_SHARD = re.compile(r"^(?P<split>.+?)[-_.]\d{3,6}(?:-of-\d{3,6})?$")


def find_split_files(
    folder: Path, name: str | None = None, config: str | None = None, mapping: dict[str, str] | None = None
) -> dict[str, list[Path]]:
    """{our split: its files} for a dataset folder; always has "train"."""
    name = name or str(folder)
    readme_configs = _readme_configs(folder)
    if readme_configs:
        by_dataset_split = _files_from_readme(folder, name, config, readme_configs)
        return _ours(by_dataset_split, name, mapping)
    if config is not None:
        if not (folder / config).is_dir():
            subfolders = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
            raise DataError(
                f"{name}: no config {config!r} (data.config); the dataset's folders are {subfolders}"
            )
        folder, name = folder / config, f"{name.rstrip('/')}/{config}"
    files = sorted(p for p in folder.rglob("*") if is_data_file(p) and ".cache" not in p.parts)
    if not files:
        raise DataError(
            f"{name}: no data files (.csv, .tsv, .jsonl, .parquet, .arrow, .xlsx) found; set data.train_file "
            "or point data.dir at the folder holding them"
        )
    if len(files) == 1 and not mapping:
        return {"train": files}
    if mapping:
        return _ours(_group_by_split_name(folder, files), name, mapping)
    return _by_role(folder, files, name)


def _split_name(folder: Path, path: Path) -> str:
    """The dataset split a file belongs to: its name without a shard number (`train-00000-of-00002`
    -> `train`), else the folder it sits in below `folder` (`train/0000.parquet`), else its name."""
    match = _SHARD.match(path.stem)
    if match:
        return match["split"]
    parents = path.relative_to(folder).parts[:-1]
    return parents[-1] if parents else path.stem


def _shard_group(folder: Path, path: Path) -> tuple[str, ...]:
    """Files with the same group are shards of one file: a shard-numbered name in one folder, or
    any file in a folder named for a split."""
    parents = path.relative_to(folder).parts[:-1]
    match = _SHARD.match(path.stem)
    if match:
        return (*parents, match["split"])
    if parents and any(p.search(parents[-1]) for p in _ROLE_PATTERNS.values()):
        return parents
    return (*parents, path.name)


def _group_by_split_name(folder: Path, files: list[Path]) -> dict[str, list[Path]]:
    groups: dict[str, list[Path]] = {}
    for path in files:
        groups.setdefault(_split_name(folder, path), []).append(path)
    return groups


def _ours(
    by_dataset_split: dict[str, list[Path]], name: str, mapping: dict[str, str] | None
) -> dict[str, list[Path]]:
    """Our splits from the dataset's split names, by `data.splits` or by name."""
    lower = {split.lower(): split for split in by_dataset_split}
    if mapping:
        out = {}
        for ours, theirs in mapping.items():
            if theirs.lower() not in lower:
                raise DataError(
                    f"{name}: no split {theirs!r} (data.splits.{ours}); the dataset's splits are "
                    f"{sorted(by_dataset_split)}"
                )
            out[ours] = by_dataset_split[lower[theirs.lower()]]
        return out
    out = {}
    for ours in SPLITS:
        found = [s for s in by_dataset_split if _ROLE_PATTERNS[ours].search(s)]
        if ours == "dev":  # "validation" before "valid" before "dev": the first name that matches
            found = [s for s in found if not _ROLE_PATTERNS["train"].search(s)]
        if len(found) > 1:
            raise DataError(
                f"{name}: several {ours} splits {sorted(found)}; set data.splits, e.g. "
                f"{{{ours}: {sorted(found)[0]}}}"
            )
        if found:
            out[ours] = by_dataset_split[found[0]]
    if "train" not in out:
        raise DataError(
            f"{name}: no train split among the dataset's splits {sorted(by_dataset_split)}; set "
            "data.splits, e.g. {train: <split>}"
        )
    return out


def _by_role(folder: Path, files: list[Path], name: str) -> dict[str, list[Path]]:
    """Split files by the words in their names (or their folders' names); shards of one split join."""
    found: dict[str, list[Path]] = {split: [] for split in SPLITS}
    for path in files:
        candidates = [path.stem, *reversed(path.relative_to(folder).parts[:-1])]
        for word in candidates:
            roles = [split for split, pattern in _ROLE_PATTERNS.items() if pattern.search(word)]
            if roles:
                found[roles[0]].append(path)
                break
    for split, paths in found.items():
        if len({_shard_group(folder, p) for p in paths}) > 1:
            raise DataError(f"{name}: several {split} files {[p.name for p in paths]}; set data.{split}_file")
    if not found["train"]:
        seen = {split: paths[0].name for split, paths in found.items() if paths}
        raise DataError(
            f"{name}: no training file found (no file name contains 'train'; found {seen} "
            f"among {[p.name for p in files]}); set data.train_file, e.g. to one of those"
        )
    return {split: paths for split, paths in found.items() if paths}


def _readme_configs(folder: Path) -> list[str]:
    """The config names a dataset card (README.md) declares in its `configs:` YAML block."""
    readme = folder / "README.md"
    if not readme.is_file():
        return []
    text = readme.read_text(encoding="utf-8", errors="replace")
    if not text.startswith("---"):
        return []
    import yaml

    try:
        header = yaml.safe_load(text.split("---", 2)[1]) or {}
    except yaml.YAMLError:
        return []
    configs = header.get("configs") if isinstance(header, dict) else None
    return [str(c.get("config_name", "default")) for c in configs or [] if isinstance(c, dict)]


def _files_from_readme(
    folder: Path, name: str, config: str | None, configs: list[str]
) -> dict[str, list[Path]]:
    """`datasets` resolves the config's data files per split, as the Hub does."""
    import datasets

    if config is not None and config not in configs:
        raise DataError(f"{name}: no config {config!r} (data.config); the dataset's configs are {configs}")
    try:
        builder = datasets.load_dataset_builder(str(folder), config)
    except ValueError as err:
        raise DataError(
            f"{name}: {str(err).splitlines()[0][:200]}; set data.config to one of {configs}"
        ) from None
    return {
        str(split): sorted(Path(str(f)) for f in files)
        for split, files in (builder.config.data_files or {}).items()
    }
