"""Where the data files are: resolve `DataConfig` to one local file per split.

    sources = resolve_sources(cfg, work_dir=Path("/tmp/x"))   # {"train": Source(...), "test": ...}

The rules, in order:
1. No `dir` and no `train_file`: the Marathi sample shipped inside the package.
2. `train_file` / `dev_file` / `test_file` that are relative resolve against `dir` (a local folder,
   `s3://bucket/prefix/`, an http(s) base URL or a hub dataset); ones with a scheme are used as is.
3. `dir` without `train_file`: the folder's single data file, or the files whose names contain
   `train`, `valid`/`val`/`dev` and `test` (case-insensitive).
4. Remote files are downloaded into `work_dir`: `s3://` and `http(s)://` through slimnlp.mlops.storage,
   hub datasets (`hf://datasets/owner/name[/file]` or `hub:owner/name`) through huggingface_hub.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from slimnlp.config import DataConfig
from slimnlp.data.errors import DataError
from slimnlp.data.tables import detect_format, is_data_file
from slimnlp.mlops.storage import StorageError, fetch

SPLITS = ("train", "dev", "test")
SAMPLE = "sample/marathi_topics.csv"
_ROLE_PATTERNS = {
    "train": re.compile("train", re.I),
    "dev": re.compile("valid|val|dev", re.I),
    "test": re.compile("test", re.I),
}


@dataclass(frozen=True)
class Source:
    """One split's file: what the user named (`uri`), where it is on disk, and how to read it."""

    split: str
    uri: str
    path: Path
    fmt: str
    text_column: str
    label_column: str


def resolve_sources(cfg: DataConfig, work_dir: Path, progress: bool = False) -> dict[str, Source]:
    """One Source per split given or found (always "train"); remote files land in work_dir."""
    if cfg.dir is None and cfg.train_file is None:
        for key in ("dev_file", "test_file"):
            if getattr(cfg, key) is not None:
                raise DataError(
                    f"data.{key} is set but data.train_file and data.dir are not; set "
                    "data.train_file (or data.dir) too"
                )
        return {"train": _sample_source(work_dir)}
    explicit = {
        split: _join(cfg.dir, getattr(cfg, f"{split}_file"))
        for split in SPLITS
        if getattr(cfg, f"{split}_file") is not None
    }
    located: dict[str, tuple[str, Path]] = {}  # split -> (uri for the report, local path)
    if "train" not in explicit:
        folder = _localize(cfg.dir, work_dir / "dir", progress, "data.dir")
        for split, path in detect_split_files(folder, cfg.dir).items():
            located[split] = (_join(cfg.dir, path.relative_to(folder).as_posix()), path)
    for split, uri in explicit.items():
        located[split] = (uri, _localize(uri, work_dir / split, progress, f"data.{split}_file"))
    train_uri, train_path = located["train"]
    if train_path.is_dir():  # train_file named a folder: a hub dataset, an s3:// prefix, a local dir
        for split, path in detect_split_files(train_path, train_uri).items():
            if split == "train" or split not in explicit:
                located[split] = (f"{train_uri.rstrip('/')}/{path.relative_to(train_path).as_posix()}", path)
    for split, (uri, path) in located.items():
        if path.is_dir():
            raise DataError(f"{uri} is a folder; data.{split}_file must name one data file")
    return {
        split: Source(
            split, uri, path, detect_format(path.name, cfg.file_format), cfg.text_column, cfg.label_column
        )
        for split, (uri, path) in sorted(located.items(), key=lambda item: SPLITS.index(item[0]))
    }


def detect_split_files(folder: Path, name: str | None = None) -> dict[str, Path]:
    """{split: file} for a folder of data files: its only file is train; otherwise by file name."""
    name = name or str(folder)
    files = sorted(p for p in folder.rglob("*") if is_data_file(p) and ".cache" not in p.parts)
    if not files:
        raise DataError(
            f"{name}: no data files (.csv, .tsv, .jsonl, .parquet) found; set data.train_file "
            "or point data.dir at the folder holding them"
        )
    if len(files) == 1:
        return {"train": files[0]}
    found: dict[str, list[Path]] = {split: [] for split in SPLITS}
    for path in files:
        roles = [split for split, pattern in _ROLE_PATTERNS.items() if pattern.search(path.stem)]
        if roles:
            found[roles[0]].append(path)
    for split, paths in found.items():
        if len(paths) > 1:
            raise DataError(f"{name}: several {split} files {[p.name for p in paths]}; set data.{split}_file")
    if not found["train"]:
        seen = {split: paths[0].name for split, paths in found.items() if paths}
        raise DataError(
            f"{name}: no training file found (no file name contains 'train'; found {seen} "
            f"among {[p.name for p in files]}); set data.train_file, e.g. to one of those"
        )
    return {split: paths[0] for split, paths in found.items() if paths}


def _sample_source(work_dir: Path) -> Source:
    """The shipped sample, copied out of the installed package (which may be a zip)."""
    resource = resources.files("slimnlp.data").joinpath(SAMPLE)
    path = work_dir / "sample" / Path(SAMPLE).name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(resource.read_bytes())
    return Source("train", f"package:slimnlp.data/{SAMPLE}", path, "csv", "text", "label")


def _has_scheme(uri: str) -> bool:
    return bool(re.match(r"^[A-Za-z][A-Za-z0-9+.-]+://", uri)) or uri.startswith("hub:")


def _join(base: str | None, name: str) -> str:
    """`name` resolved against the data dir `base` (a folder or URI); absolute names and URIs win."""
    if base is None or _has_scheme(name) or Path(name).expanduser().is_absolute():
        return name
    if _has_scheme(base):
        return base.rstrip("/") + "/" + name
    return str(Path(base).expanduser() / name)


def _localize(uri: str, dest_dir: Path, progress: bool, key: str) -> Path:
    """A local path for a file or folder URI, downloading it when it is remote; errors name `key`."""
    if uri.startswith(("hf://", "hub:")):
        return _fetch_from_hub(uri, dest_dir)
    if uri.startswith("s3://") and uri.count("/") == 2:
        uri += "/"  # s3://bucket as a data dir means the whole bucket
    try:
        return fetch(uri, dest_dir, progress=progress)
    except StorageError as err:
        raise DataError(f"{key}: {err}") from err


def _fetch_from_hub(uri: str, dest_dir: Path) -> Path:
    """Download `hf://datasets/owner/name[/file]` or `hub:owner/name[/file]` with huggingface_hub."""
    spec = uri.removeprefix("hub:") if uri.startswith("hub:") else uri.removeprefix("hf://")
    spec = spec.removeprefix("datasets/")
    parts = spec.strip("/").split("/")
    if len(parts) < 2:
        raise DataError(f"{uri}: a hub dataset name looks like hf://datasets/owner/name or hub:owner/name")
    repo_id, filename = "/".join(parts[:2]), "/".join(parts[2:])
    try:
        import huggingface_hub as hub

        # snapshot_download also for one file: hf_hub_download retries a dead connection for ~20 s.
        folder = hub.snapshot_download(
            repo_id,
            repo_type="dataset",
            local_dir=dest_dir,
            allow_patterns=[filename] if filename else None,
            endpoint=os.environ.get("HF_ENDPOINT"),
        )  # read now, not at import
    except Exception as err:  # noqa: BLE001 - apart from a wrong name, the advice is the same
        if type(err).__name__ == "RepositoryNotFoundError":
            raise DataError(f"{uri}: no dataset {repo_id!r} on the hub; check the name") from None
        raise DataError(
            f"{uri}: cannot download from the hub ({type(err).__name__}: {str(err).splitlines()[0][:200]}). "
            "If the hub is unreachable from here, download the dataset where it is reachable and set "
            "data.dir / data.train_file to a local path or an s3:// URI instead"
        ) from None
    path = Path(folder) / filename
    if not path.exists():
        raise DataError(f"{uri}: the hub dataset {repo_id!r} has no file {filename!r}; check the path")
    return path
