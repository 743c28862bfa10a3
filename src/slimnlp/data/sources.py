"""Where the data files are: resolve `DataConfig` to one local file per split.

    sources = resolve_sources(cfg, work_dir=Path("/tmp/x"))   # {"train": Source(...), "test": ...}

The rules, in order:
1. No `dir` and no `train_file`: the Marathi sample shipped inside the package.
2. `train_file` / `dev_file` / `test_file` that are relative resolve against `dir` (a local folder,
   `s3://bucket/prefix/`, an http(s) base URL or a hub dataset); ones with a scheme are used as is.
3. `dir` without `train_file`: the folder's splits (folders.py): the Hub's layouts
   (`data/train-00000-of-00002.parquet`, `default/train/0000.parquet`, a README `configs:` block),
   files whose names contain `train`, `valid`/`val`/`dev` and `test`, or the folder's single file;
   `data.config` picks a config, `data.splits` maps the dataset's split names to ours. A split's
   shards are joined.
4. Remote files are downloaded into `work_dir`: `s3://` and `http(s)://` through slimnlp.mlops.storage,
   hub datasets (`hf://datasets/owner/name[/file]` or `hub:owner/name`, at `data.revision`) through
   huggingface_hub's cache (so `HF_HUB_OFFLINE=1` reads what is cached).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from slimnlp.config import DataConfig
from slimnlp.data.errors import DataError
from slimnlp.data.folders import SPLITS, find_split_files
from slimnlp.data.tables import detect_format
from slimnlp.mlops.storage import StorageError, fetch

SAMPLE = "sample/marathi_topics.csv"
__all__ = ["SPLITS", "Source", "detect_split_files", "resolve_sources"]


@dataclass(frozen=True)
class Source:
    """One split's file(s): what the user named (`uri`), where it is on disk (`path`, the first of
    `paths` when a split has several shards), and how to read it."""

    split: str
    uri: str
    path: Path
    fmt: str
    text_column: str
    label_column: str
    paths: tuple[Path, ...] = field(default=())
    sheet: str | None = None

    def __post_init__(self) -> None:
        if not self.paths:
            object.__setattr__(self, "paths", (self.path,))


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
    located: dict[str, tuple[str, list[Path]]] = {}  # split -> (uri for the report, local files)
    if "train" not in explicit:
        folder = _localize(cfg.dir, work_dir / "dir", progress, "data.dir", cfg.revision)
        if folder.is_file():
            located["train"] = (cfg.dir, [folder])
        else:
            for split, paths in find_split_files(folder, cfg.dir, cfg.config, cfg.splits).items():
                located[split] = (_uri_of(cfg.dir, folder, paths), paths)
    for split, uri in explicit.items():
        located[split] = (
            uri,
            [_localize(uri, work_dir / split, progress, f"data.{split}_file", cfg.revision)],
        )
    train_uri, (train_path, *_) = located["train"]
    if train_path.is_dir():  # train_file named a folder: a hub dataset, an s3:// prefix, a local dir
        for split, paths in find_split_files(train_path, train_uri, cfg.config, cfg.splits).items():
            if split == "train" or split not in explicit:
                located[split] = (_uri_of(train_uri, train_path, paths), paths)
    for split, (uri, paths) in located.items():
        if paths[0].is_dir():
            raise DataError(f"{uri} is a folder; data.{split}_file must name one data file")
    return {
        split: Source(
            split,
            uri,
            paths[0],
            detect_format(paths[0].name, cfg.file_format),
            cfg.text_column,
            cfg.label_column,
            tuple(paths),
            cfg.sheet,
        )
        for split, (uri, paths) in sorted(located.items(), key=lambda item: SPLITS.index(item[0]))
    }


def detect_split_files(folder: Path, name: str | None = None) -> dict[str, Path]:
    """{split: first file} of a folder (folders.find_split_files gives every shard)."""
    return {split: paths[0] for split, paths in find_split_files(folder, name).items()}


def _uri_of(base: str, folder: Path, paths: list[Path]) -> str:
    """What to call a split's files in the report: the file, or the first shard and how many there are."""
    uri = f"{base.rstrip('/')}/{paths[0].relative_to(folder).as_posix()}"
    return uri if len(paths) == 1 else f"{uri} (+{len(paths) - 1} more shards)"


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


def _localize(uri: str, dest_dir: Path, progress: bool, key: str, revision: str | None = None) -> Path:
    """A local path for a file or folder URI, downloading it when it is remote; errors name `key`."""
    if uri.startswith(("hf://", "hub:")):
        return _fetch_from_hub(uri, revision)
    if uri.startswith("s3://") and uri.count("/") == 2:
        uri += "/"  # s3://bucket as a data dir means the whole bucket
    try:
        return fetch(uri, dest_dir, progress=progress)
    except StorageError as err:
        raise DataError(f"{key}: {err}") from err


def _fetch_from_hub(uri: str, revision: str | None) -> Path:
    """Download `hf://datasets/owner/name[/file]` or `hub:owner/name[/file]` at `revision` into
    huggingface_hub's cache (HF_HUB_CACHE); offline (HF_HUB_OFFLINE=1) the cached snapshot."""
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
            revision=revision,
            allow_patterns=[filename] if filename else None,
            endpoint=os.environ.get("HF_ENDPOINT"),
        )  # read now, not at import
    except Exception as err:  # noqa: BLE001 - apart from a wrong name, the advice is the same
        if type(err).__name__ == "RepositoryNotFoundError":
            raise DataError(f"{uri}: no dataset {repo_id!r} on the hub; check the name") from None
        if type(err).__name__ == "RevisionNotFoundError":
            raise DataError(f"{uri}: the dataset has no revision {revision!r} (data.revision)") from None
        raise DataError(
            f"{uri}: cannot download from the hub ({type(err).__name__}: {str(err).splitlines()[0][:200]}). "
            "If the hub is unreachable from here, download the dataset where it is reachable and set "
            "data.dir / data.train_file to a local path or an s3:// URI instead"
        ) from None
    path = Path(folder) / filename
    if not path.exists():
        raise DataError(f"{uri}: the hub dataset {repo_id!r} has no file {filename!r}; check the path")
    return path
