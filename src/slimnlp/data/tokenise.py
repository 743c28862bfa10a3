"""The prepared splits as the steps use them, and their token ids cached per tokenizer and length.

    train, dev, test, id2label = load_splits("runs/x/data")    # train[0] texts, train[1] label ids (mapped)
    ids = cached_token_ids(tokenizer, train[0], max_length=128)  # TokenIds, or None for other texts
    ids.take([3, 1, 4])                                          # token ids of those rows
    ids.lengths                                                  # tokens per row (numpy)

Tokenisation is a `Dataset.map` over the memory-mapped split, written to
`$SLIMNLP_CACHE_DIR/tokenized/<split>-<key>.arrow` (default ~/.cache/slimnlp; the data directory
itself stays untouched, as resume compares its digest). The key hashes the tokenizer (its serialised
vocabulary, normaliser and post-processor, or its vocabulary and settings for a slow tokenizer), the
maximum length and the prepared data (data_report.json's data_sha256). So train-teacher, prune,
distill and finetune-amp tokenise each split once per tokenizer; each prints whether it tokenised
or reused a split, and TOKENISATIONS counts both (tests read it).
"""

from __future__ import annotations

import hashlib
import json
import operator
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from slimnlp.data import spill
from slimnlp.data.artifacts import REPORT, WRITER_BATCH, load_split, read_label_map, split_path

TOKENISATIONS: Counter = Counter()  # ("tokenised" | "reused", split) -> count in this process
PARALLEL_ROWS = 50_000  # splits this long are tokenised (and cleaned) by two processes (tokenise_workers)
_ITER_BATCH = 10_000  # texts turned into Python strings at a time when a split is iterated
_LAST_PRINTED: list[str] = [""]  # dev scored after every epoch: say "reused" once, not every epoch


class SplitTexts(Sequence):
    """The texts of a prepared split, read on demand from its memory-mapped Arrow file: a sequence
    (len, index, slice, iterate) that never holds the split's texts as Python strings, so a split
    larger than memory is fine. It remembers its split, so the token-id cache can find it; a slice
    or copy is a plain list (and is tokenised as before)."""

    def __init__(self, column: Any, data_dir: Path, split: str) -> None:
        self.column, self.data_dir, self.split = column, Path(data_dir), split

    def __len__(self) -> int:
        return len(self.column)

    def __getitem__(self, index):
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step == 1:
                return self.column.slice(start, max(0, stop - start)).to_pylist()
            return [self[i] for i in range(start, stop, step)]
        index = operator.index(index)
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"{self.split} split has {len(self)} texts; no index {index}")
        return self.column[index].as_py()

    def __iter__(self) -> Iterator[str]:
        for start in range(0, len(self), _ITER_BATCH):  # a batch of Python strings at a time
            yield from self.column.slice(start, _ITER_BATCH).to_pylist()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SplitTexts | list | tuple):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # a sequence compared by value, like a list

    def __repr__(self) -> str:
        return f"SplitTexts({str(self.data_dir)!r}, {self.split!r}, {len(self):,} texts)"

    def __reduce__(self):  # pickled (DDP, multiprocessing) by path, not by value
        return _split_texts, (str(self.data_dir), self.split)


def _split_texts(data_dir: str, split: str) -> SplitTexts:
    return SplitTexts(load_split(data_dir, split).data.column("text"), Path(data_dir), split)


class SplitLabels(Sequence):
    """The label ids of a prepared split, read from its memory-mapped Arrow file: a sequence of ints
    (len, index, slice, iterate, `take`) that holds no Python int per row. Compares equal to a list
    of the same ids; np.asarray gives the ids as an array (a copy)."""

    def __init__(self, column: Any, data_dir: Path, split: str) -> None:
        self.data_dir, self.split = Path(data_dir), split
        # int64 views of the mapped file (a copy only for an old .jsonl split's in-memory column)
        self._parts = [np.asarray(c.to_numpy(zero_copy_only=False), dtype=np.int64) for c in column.chunks]
        self._rows = sum(len(part) for part in self._parts)
        self._compact: np.ndarray | None = None

    def __len__(self) -> int:
        return self._rows

    def ids(self) -> np.ndarray:
        """Every id, contiguous, in a mapped temporary file (8 bytes a row, file-backed), made on
        first use: what random reads (a training batch's rows) should index. Read from the split
        file, each would page in the read-ahead around its label, mostly texts. Measured at 3.5M
        rows in a 1 GiB cgroup: 400 MiB of the split file's text pages cached, and thrashing."""
        if self._compact is None:
            self._compact = spill.Disk(tempfile.gettempdir()).from_chunks(self._parts, self._rows, np.int64)
        return self._compact

    def take(self, rows) -> np.ndarray:
        """The ids of `rows` (int64)."""
        rows = np.asarray(rows, dtype=np.int64)
        if len(rows) and (rows.min() < 0 or rows.max() >= self._rows):
            raise IndexError(f"{self.split} split has {self._rows} labels; rows {rows.min()}..{rows.max()}")
        return self.ids()[rows]

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        index = operator.index(index)
        if not -len(self) <= index < len(self):
            raise IndexError(f"{self.split} split has {len(self)} labels; no index {index}")
        return int(self.ids()[index])

    def __iter__(self) -> Iterator[int]:
        for part in self._parts:
            yield from part.tolist()

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        ids = np.concatenate(self._parts) if self._parts else np.zeros(0, dtype=np.int64)
        return ids if dtype is None else ids.astype(dtype)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SplitLabels | list | tuple):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"SplitLabels({str(self.data_dir)!r}, {self.split!r}, {len(self):,} labels)"

    def __reduce__(self):  # pickled by path, not by value
        return _split_labels, (str(self.data_dir), self.split)


def _split_labels(data_dir: str, split: str) -> SplitLabels:
    return SplitLabels(load_split(data_dir, split).data.column("label"), Path(data_dir), split)


class _Chunks:
    """Row numbers of a chunked Arrow column to (chunk, row in chunk)."""

    def __init__(self, column: Any) -> None:
        self.starts = np.cumsum([0] + [len(c) for c in column.chunks])
        self.rows = int(self.starts[-1])

    def locate(self, rows) -> tuple[np.ndarray, np.ndarray]:
        rows = np.asarray(rows, dtype=np.int64)
        if len(rows) and (rows.min() < 0 or rows.max() >= self.rows):
            raise IndexError(f"rows {rows.min()}..{rows.max()} out of range for {self.rows} rows")
        chunk_of = np.searchsorted(self.starts, rows, side="right") - 1
        return chunk_of, rows - self.starts[chunk_of]


class Split(tuple):
    """(texts, label ids) of a prepared split, as `read_split` gives them: SplitTexts and SplitLabels."""

    def __new__(cls, texts: SplitTexts, labels: SplitLabels | list[int]) -> Split:
        return super().__new__(cls, (texts, labels))


def load_splits(data_dir: str | Path) -> tuple[Split, Split, Split, dict[int, str]]:
    """train, dev, test (texts, label ids) and id2label of a prepared-data directory. Texts and label
    ids stay in the memory-mapped split files (SplitTexts, SplitLabels)."""
    data_dir = Path(data_dir)
    splits = []
    for split in ("train", "dev", "test"):
        table = load_split(data_dir, split).data
        texts = SplitTexts(table.column("text"), data_dir, split)
        splits.append(Split(texts, SplitLabels(table.column("label"), data_dir, split)))
    return splits[0], splits[1], splits[2], read_label_map(data_dir)


class TokenIds:
    """Token ids of a split, read from the memory-mapped cache: `take(rows)` gives lists of ids.

    Rows are sliced out of each Arrow chunk's offsets and values as numpy views of the mapped file
    (no copy of the column, no per-call concatenation of chunks)."""

    def __init__(self, ds) -> None:
        self.column = ds.data.column("input_ids")
        self._length_column = ds.data.column("length")
        self._chunks = _Chunks(self.column)
        self._parts = [(c.offsets.to_numpy(), c.values.to_numpy()) for c in self.column.chunks]

    def __len__(self) -> int:
        return self._chunks.rows

    def __getitem__(self, row: int) -> list[int]:
        return self.take([row])[0]

    @property
    def lengths(self) -> np.ndarray:
        """Tokens per row (a copy: 4 bytes a row; `length_stats` needs none)."""
        return self._length_column.to_numpy()

    def length_stats(self) -> tuple[int, int]:
        """(total tokens, longest row), chunk by chunk."""
        parts = [c.to_numpy() for c in self._length_column.chunks if len(c)]
        return sum(int(p.sum()) for p in parts), max((int(p.max()) for p in parts), default=0)

    def take(self, rows) -> list[list[int]]:
        chunk_of, local = self._chunks.locate(rows)
        out = []
        for row, chunk in zip(local.tolist(), chunk_of.tolist(), strict=True):
            offsets, values = self._parts[chunk]
            out.append(values[offsets[row] : offsets[row + 1]].tolist())
        return out

    def tolist(self) -> list[list[int]]:
        return self.column.to_pylist()


def tokenizer_fingerprint(tokenizer: Any) -> str:
    """A hash of everything that decides a tokenizer's ids."""
    digest = hashlib.sha256(type(tokenizer).__name__.encode())
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:  # without the truncation/padding state the last call left behind
        state = json.loads(backend.to_str())
        state.pop("truncation", None)
        state.pop("padding", None)
        digest.update(json.dumps(state, sort_keys=True, ensure_ascii=False).encode())
    else:
        digest.update(json.dumps(sorted(tokenizer.get_vocab().items()), ensure_ascii=False).encode())
        digest.update(
            repr(sorted((k, repr(v)) for k, v in getattr(tokenizer, "init_kwargs", {}).items())).encode()
        )
    return digest.hexdigest()


def cached_token_ids(tokenizer: Any, texts: Any, max_length: int, progress: bool = True) -> TokenIds | None:
    """Token ids of a prepared split's texts (SplitTexts), tokenised once per tokenizer and length
    and reused after; None for any other list of texts."""
    if not isinstance(texts, SplitTexts) or not hasattr(texts, "split"):
        return None
    ds = load_split(texts.data_dir, texts.split)
    if len(ds) != len(texts):  # the list was changed after loading: not the split any more
        return None
    return split_token_ids(texts.data_dir, texts.split, tokenizer, max_length, progress, ds)


def split_token_ids(
    data_dir: str | Path, split: str, tokenizer: Any, max_length: int, progress: bool = True, ds=None
) -> TokenIds:
    """Token ids of one split of a prepared-data directory, from the cache or tokenised into it,
    without reading its texts into Python (a split larger than memory is fine)."""
    data_dir = Path(data_dir)
    ds = ds if ds is not None else load_split(data_dir, split)
    fingerprint = tokenizer_fingerprint(tokenizer)
    identity = _data_identity(data_dir, split)
    key = hashlib.sha256(f"{fingerprint}|{max_length}|{identity}".encode()).hexdigest()[:16]
    path = _cache_dir() / f"{split}-{key}.arrow"
    tag = f"{split} ({len(ds):,} rows) for tokenizer {fingerprint[:8]}, max_length {max_length}"
    if path.is_file():
        import datasets

        cached = TokenIds(datasets.Dataset.from_file(str(path)))
        if len(cached) == len(ds):  # else the split changed after its report was written: tokenise again
            TOKENISATIONS["reused", split] += 1
            if _LAST_PRINTED[0] != path.name:
                print(f"tokens: reused {tag}", flush=True)
            _LAST_PRINTED[0] = path.name
            return cached
    TOKENISATIONS["tokenised", split] += 1
    print(f"tokens: tokenising {tag} -> {path}", flush=True)
    _LAST_PRINTED[0] = path.name
    return TokenIds(_tokenise(ds, tokenizer, max_length, path, key, progress))


def _tokenise(
    ds, tokenizer: Any, max_length: int, path: Path, key: str, progress: bool, workers: int | None = None
):
    """Token ids of `ds` written to `path` (one file), by `workers` processes (default: tokenise_workers)."""
    import datasets

    def encode(batch: dict[str, list]) -> dict[str, list]:
        ids = tokenizer(batch["text"], truncation=True, max_length=max_length, padding=False)["input_ids"]
        return {"input_ids": ids, "length": [len(x) for x in ids]}

    features = datasets.Features(
        {"input_ids": datasets.Sequence(datasets.Value("int32")), "length": datasets.Value("int32")}
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    bars = datasets.is_progress_bar_enabled()
    if not progress:
        datasets.disable_progress_bars()
    common = {
        "batched": True,
        "remove_columns": ds.column_names,
        "features": features,
        "load_from_cache_file": False,
        "desc": f"tokenising {path.stem.split('-')[0]}",
    }
    workers = workers or tokenise_workers(len(ds))
    try:
        if workers == 1:
            return ds.map(
                encode,
                batch_size=1_000,
                writer_batch_size=WRITER_BATCH,
                cache_file_name=str(path),
                new_fingerprint=key,
                **common,
            )
        # Shards in worker processes, then one file (what the cache reads back).
        shards = path.parent / f".{path.stem}-shards"
        parts = ds.map(encode, batch_size=1_000, writer_batch_size=WRITER_BATCH, num_proc=workers, cache_file_name=str(shards / "part.arrow"),
                       new_fingerprint=f"{key}-parts", **common)  # fmt: skip
        joined = parts.map(
            batched=True,
            batch_size=10_000,
            writer_batch_size=WRITER_BATCH,
            features=features,
            cache_file_name=str(path),
            new_fingerprint=key,
            load_from_cache_file=False,
            desc="joining shards",
        )
        del parts
        shutil.rmtree(shards, ignore_errors=True)
        return joined
    finally:
        if bars and not progress:
            datasets.enable_progress_bars()


def tokenise_workers(rows: int) -> int:
    """Processes for a `Dataset.map` pass over a split (tokenising; prepare-data's cleaning rules
    1-4): 2 (or the CPUs, if fewer) from PARALLEL_ROWS rows on. Measured on 2 cores at 1M rows
    (benchmarks/data_scale.py --num-proc-study): 0.52x the wall time of one process for tokenising,
    0.54x for cleaning; the Python side of each batch (ids to lists, the Arrow write) is one thread."""
    return min(2, os.cpu_count() or 1) if rows >= PARALLEL_ROWS else 1


def _data_identity(data_dir: Path, split: str) -> str:
    """The prepared data's content hash (data_report.json), else the split file's path, size and time."""
    try:
        return json.loads((data_dir / REPORT).read_text(encoding="utf-8"))["data_sha256"] + "|" + split
    except (OSError, ValueError, KeyError, TypeError):
        stat = split_path(data_dir, split).stat()
        return f"{split_path(data_dir, split).resolve()}|{stat.st_size}|{stat.st_mtime_ns}"


def _cache_dir() -> Path:
    """$SLIMNLP_CACHE_DIR/tokenized, else ~/.cache/slimnlp/tokenized. Not the data directory: a
    step's inputs must stay as they were (resume compares their digests)."""
    root = os.environ.get("SLIMNLP_CACHE_DIR") or Path.home() / ".cache" / "slimnlp"
    return Path(root).expanduser() / "tokenized"
